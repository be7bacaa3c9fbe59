/** collector/errors.ts — the error type for kernel-side failures (load, attach, permissions). */
export type KernelErrorCode = 'PERMISSION' | 'LOAD' | 'ATTACH' | 'NOT_RUNNING' | 'NATIVE_MISSING' | 'CAPABILITIES';

export class KernelError extends Error {
  readonly code: KernelErrorCode;
  constructor(code: KernelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KernelError';
    this.code = code;
  }
}
