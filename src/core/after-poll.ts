// Timers whose callback is judged after the poll phase. A timer fires in the event loop's
// timers phase, before the poll phase reads what the sockets received; the check phase
// (setImmediate) comes after it. After the process was frozen (SIGSTOP, a paused container or
// VM) longer than a timeout, that read is all the clients sent meanwhile: a deadline judged in
// the timers phase would time out requests that had arrived whole. Clearing the timer does not
// cancel a judge already queued for the check phase: the judge checks that it still applies.

/** Like setTimeout, but `judge` runs after the poll phase of the turn the timer fires in. */
export function setTimeoutAfterPoll(judge: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => setImmediate(judge), ms);
}

/** Like setInterval, but each `judge` runs after the poll phase of the turn the interval fires in. */
export function setIntervalAfterPoll(judge: () => void, ms: number): NodeJS.Timeout {
  return setInterval(() => setImmediate(judge), ms);
}
