/**
 * The shape of bot4's errors (STYLE: "Errors are classes with code, stage, cause"): a stable
 * machine-readable `code`, the `stage` that raised it, the message for people, and the cause.
 * Subclasses fix the code and stage so that `instanceof` and `code` both work.
 */
export class Bot4Error<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    readonly stage: string,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
