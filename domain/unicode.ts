/**
 * Whether `text` is well-formed UTF-16: no lone surrogate. JSON lets a sender write one
 * (`"\ud800"`), but such text cannot be encoded as UTF-8: Redis, SQS and SMTP would each store
 * or send it as U+FFFD, so `\ud800@x` and `\udc00@x` would become one key, and a job id holding
 * one breaks BullMQ's scripts. `String.prototype.isWellFormed` exists on Node 20 and later; the
 * cast is only because this project's `lib` (ES2023) does not declare it yet.
 */
export function isWellFormedText(text: string): boolean {
  return (text as unknown as WellFormedCheck).isWellFormed();
}

interface WellFormedCheck {
  isWellFormed(): boolean;
}
