/**
 * cli/tty.ts — the terminal's stderr, shared by the live view and log lines:
 * the view is a frame redrawn in place (cursor up over the last frame, clear
 * to the end), and a log line is written where the frame was, the frame
 * drawn again below it — so a log line never tears the view, and frames
 * never stack. Off a terminal nothing here is used (JSON lines instead).
 */
let frame = '';
let drawn = 0;

const erase = () => (drawn ? `\x1b[${drawn}F\x1b[J` : '');

/** Draw (or redraw) the live view. */
export function drawFrame(view: string): void {
  process.stderr.write(erase() + view + '\n');
  frame = view;
  drawn = view.split('\n').length;
}

/** Write text (ending in a newline) above the live view. */
export function writeAbove(text: string): void {
  const line = text.endsWith('\n') ? text : `${text}\n`;
  process.stderr.write(erase() + line + (frame ? `${frame}\n` : ''));
}

/** Forget the frame (the view ends; what was drawn stays on screen). */
export function endFrame(): void {
  frame = '';
  drawn = 0;
}
