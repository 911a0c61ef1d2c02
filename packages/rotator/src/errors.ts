// The rotator's errors are the spool's: writing, finishing and publishing files in the spool folder.
export type { SpoolErrorReason } from "@sluice/spool";
export { SpoolError } from "@sluice/spool";
