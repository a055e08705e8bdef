/**
 * `?wait=S` as a hold in ms. Validation already holds `wait` to a finite
 * 0..MAX_WAIT_SECONDS; clamping again here keeps every timer a hold arms
 * finite and in range even if a schema is ever loosened.
 */
export function holdMs (wait: number | undefined, maxWaitSeconds: number): number {
  return wait !== undefined && Number.isFinite(wait) ? Math.min(Math.max(wait, 0), maxWaitSeconds) * 1000 : 0
}
