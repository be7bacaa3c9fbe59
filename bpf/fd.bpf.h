/* SPDX-License-Identifier: MIT */
/*
 * fd.bpf.h — the current task's open file for an fd, with direct BTF loads
 * (bpf_get_current_task_btf + bpf_rdonly_cast: one probe read in all). Used by
 * the families that filter syscalls by what an fd is (uds: AF_UNIX sockets,
 * fsync: regular files, shm: tmpfs/hugetlbfs files). Needs bpf_rdonly_cast
 * (kernel >= 6.2; declared weak so objects still load elsewhere with their
 * probe-read fallbacks).
 */
#ifndef V2_FD_BPF_H
#define V2_FD_BPF_H

#define V2_S_IFMT 00170000
#define V2_S_IFREG 0100000
#define V2_S_IFSOCK 0140000

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* The struct file of fd in the current task, or NULL (bad fd, closed). */
static __always_inline struct file *v2_fd_file(__s64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file;

	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	return bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
}

/* The file type bits (S_IFMT) of fd, or 0. */
static __always_inline __u32 v2_fd_type(__s64 fd)
{
	struct file *file = v2_fd_file(fd);

	return file ? (file->f_inode->i_mode & V2_S_IFMT) : 0;
}

#endif /* V2_FD_BPF_H */
