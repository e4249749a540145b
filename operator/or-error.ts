// A reconciler answers the one failure that is the object's own fault (an invalid spec, an unreadable ledger) itself,
// with a log line or an event, and leaves every other error to the work queue's retries.

/** What `fn` returns, or the error it throws when that is a `type`; any other error is thrown on. */
export function orError<T, E extends Error>(fn: () => T, type: new (...args: never[]) => E): T | E {
  try {
    return fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
}
