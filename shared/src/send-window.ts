/**
 * A sending window: the days of the week and the local hours in one time zone during which a
 * broadcast may send (a clinic's reminders only inside working hours). Pure date math on `Intl`, so
 * the control-plane (which answers "scheduled" or "running") and the session-node (which waits for the
 * window to open) agree, across time zones and daylight-saving changes.
 */
export type SendWindow = {
  /** ISO weekdays the window is open on: 1 = Monday … 7 = Sunday. */
  days: number[]
  /** Local opening time, `HH:MM` (24 h). */
  from: string
  /** Local closing time, `HH:MM`, after `from` (the window does not span midnight). */
  until: string
  /** IANA time zone the hours are read in, e.g. `Asia/Jakarta`. */
  timeZone: string
}

const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/
const MINUTE_MS = 60_000
const DAY_MS = 24 * 60 * MINUTE_MS

/** Whether `timeZone` is an IANA zone this runtime knows. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return true
  } catch {
    return false
  }
}

/** Minutes after midnight of an `HH:MM`, or undefined when it is not one. */
export function minutesOfDay(value: string): number | undefined {
  const match = TIME_OF_DAY.exec(value)
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined
}

/** Why a window cannot be used (`field` is relative to the window), or undefined when it is fine. */
export function sendWindowProblem(window: SendWindow): { field: string; reason: string } | undefined {
  if (window.days.length === 0) return { field: 'days', reason: 'must name at least one day' }
  if (window.days.some((day) => !Number.isInteger(day) || day < 1 || day > 7))
    return { field: 'days', reason: 'must be ISO weekdays 1 (Monday) to 7 (Sunday)' }
  const from = minutesOfDay(window.from)
  const until = minutesOfDay(window.until)
  if (from === undefined) return { field: 'from', reason: 'must be a time HH:MM' }
  if (until === undefined) return { field: 'until', reason: 'must be a time HH:MM' }
  if (until <= from) return { field: 'until', reason: 'must be after from (a window does not span midnight)' }
  if (!isKnownTimeZone(window.timeZone))
    return { field: 'timeZone', reason: 'must be an IANA time zone such as Asia/Jakarta' }
  return undefined
}

type LocalTime = { year: number; month: number; day: number; minutes: number; weekday: number }

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

/** The wall-clock time of an instant in a zone (and its offset from UTC in ms). */
function localTimeOf(at: number, timeZone: string): LocalTime & { offsetMs: number } {
  const parts: Record<string, number> = {}
  for (const part of formatterOf(timeZone).formatToParts(new Date(at))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value)
  }
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second)
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay() || 7
  return {
    year,
    month,
    day,
    minutes: hour * 60 + minute,
    weekday,
    offsetMs: asUtc - Math.floor(at / 1000) * 1000,
  }
}

/**
 * The instant a local wall-clock time names in a zone. A time skipped by a spring-forward change
 * resolves to the instant an hour later on the wall clock; a repeated one to its first occurrence.
 */
function instantOfLocal(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes)
  // The offsets half a day either side bracket any change of that day (changes are months apart).
  const candidates = [
    wall - localTimeOf(wall - 12 * 3600_000, timeZone).offsetMs,
    wall - localTimeOf(wall + 12 * 3600_000, timeZone).offsetMs,
  ]
  const named = candidates.filter((instant) => {
    const local = localTimeOf(instant, timeZone)
    return local.day === day && local.minutes === minutes
  })
  // Repeated (or unchanged): the first occurrence. Skipped: the later instant, an hour on the wall clock.
  return named.length > 0 ? Math.min(...named) : Math.max(...candidates)
}

/** Whether the window is open at `at` (epoch ms). */
export function isWindowOpen(window: SendWindow, at: number): boolean {
  const local = localTimeOf(at, window.timeZone)
  const from = minutesOfDay(window.from) ?? 0
  const until = minutesOfDay(window.until) ?? 24 * 60
  return window.days.includes(local.weekday) && local.minutes >= from && local.minutes < until
}

/**
 * The first instant at or after `at` when the window is open: `at` itself when it is open now, else
 * the next opening (at most eight days ahead; undefined for a window that never opens).
 */
export function nextWindowOpening(window: SendWindow, at: number): number | undefined {
  if (isWindowOpen(window, at)) return at
  const from = minutesOfDay(window.from) ?? 0
  const today = localTimeOf(at, window.timeZone)
  const todayUtc = Date.UTC(today.year, today.month - 1, today.day)
  for (let offset = 0; offset <= 8; offset++) {
    const date = new Date(todayUtc + offset * DAY_MS)
    const weekday = date.getUTCDay() || 7
    if (!window.days.includes(weekday)) continue
    const opening = instantOfLocal(
      date.getUTCFullYear(),
      date.getUTCMonth() + 1,
      date.getUTCDate(),
      from,
      window.timeZone,
    )
    if (opening > at && isWindowOpen(window, opening)) return opening
  }
  return undefined
}
