/** The CLI's exit codes; scripts and schedulers branch on them. */
export const ExitCode = {
  /** The job finished (or the command succeeded). */
  ok: 0,
  /** The job failed at run time. */
  failed: 1,
  /** Invalid usage or an invalid job configuration: nothing ran. */
  invalid: 2,
  /** Cancelled by SIGINT or SIGTERM. */
  cancelled: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
