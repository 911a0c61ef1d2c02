// The one pacing clock of the Replayer, shared by the inject loop and the FIFO: a record's send time (ns
// on its Timeline) becomes a due time on one absolute clock anchored at the first record, so a late record
// makes the next ones catch up rather than pushing everything back, and an hour-long replay does not drift.

/** The pacing clock's reading, in ns (performance.now's time origin). */
export const nowNs = (): number => performance.now() * 1e6;

/** Where a timeline's send time 0 falls on the clock. */
export class PaceClock {
  private anchor = Number.NaN;

  /** Send time 0 on the clock (ns); NaN until the first record anchored it. */
  get origin(): number {
    return this.anchor;
  }

  /**
   * The due time (ns on the clock) of a record with send time `sendAt`, asked at `now`. The first record
   * anchors the clock. With `restart` (a file's first record, asked for the first time) a record already
   * late anchors it anew: a file that came after its gap had passed, or the fresh timeline after a stopped
   * file, goes out at once instead of in a burst that catches up.
   */
  due(sendAt: number, now: number, restart: boolean): number {
    if (Number.isNaN(this.anchor) || (restart && this.anchor + sendAt < now)) this.anchor = now - sendAt;
    return this.anchor + sendAt;
  }

  /** The due time of a record on the clock as it is anchored (by an earlier due()). */
  at(sendAt: number): number {
    return this.anchor + sendAt;
  }
}
