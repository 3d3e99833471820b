// Environment names that look like a setting but are not one (MAX_THREAD for MAX_THREADS).
// convict reads only the names of its schema, so a misspelt one is ignored in silence and its
// setting keeps the default; the environment holds too many unrelated names (PATH, HOSTNAME,
// KUBERNETES_*) to refuse the unknown ones, so the close ones are named at start instead.
// Pure: the settings' names and the environment's are given.

/** An environment name that is not a setting, and the setting it most likely stands for. */
export interface Misspelling {
  readonly name: string;
  readonly meant: string;
}

/**
 * Settings up to this long may be missed by one edit, longer ones by two: two edits turn a
 * four-letter name into too many others (HOST into HOME, PORT into SORT).
 */
const SHORT_SETTING = 5;

/**
 * The optimal string alignment distance: insertions, deletions, substitutions and swaps of
 * two neighbours (MAX_THRAEDS) each count one.
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the table: the one before the previous, the previous and this one.
  let older: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, older[j - 2]! + 1);
      row.push(best);
    }
    older = previous;
    previous = row;
  }
  return previous[b.length]!;
}

const wordsOf = (name: string): string => name.split('_').sort().join('_');

/** How far `name` (upper case) is from `setting`, or null when too far to be meant for it. */
function closeness(name: string, setting: string): number | null {
  if (name === setting) return 0;
  // THREADS_MAX: every word there, in another order.
  if (wordsOf(name) === wordsOf(setting)) return 1;
  const distance = editDistance(name, setting);
  return distance <= (setting.length <= SHORT_SETTING ? 1 : 2) ? distance : null;
}

/**
 * Kubernetes gives a pod, for each Service of its namespace (unless enableServiceLinks is
 * false), `<SERVICE>_SERVICE_HOST`, `<SERVICE>_SERVICE_PORT...` and `<SERVICE>_PORT...`: a
 * Service named `admins` would make ADMINS_PORT, one edit from ADMIN_PORT. Such a name is the
 * Service's when its `_SERVICE_HOST` is there too.
 */
function serviceLinks(environment: readonly string[]): (name: string) => boolean {
  const services = environment.filter((name) => name.endsWith('_SERVICE_HOST')).map((name) => name.slice(0, -'_SERVICE_HOST'.length));
  return (name) => services.some((service) => name.startsWith(`${service}_SERVICE_`) || name === `${service}_PORT` || name.startsWith(`${service}_PORT_`));
}

/** The environment's names that are not settings but close to one, each with the nearest setting (the first listed, on a tie). */
export function misspeltSettings(settings: readonly string[], environment: readonly string[]): Misspelling[] {
  const known = new Set(settings);
  const isServiceLink = serviceLinks(environment);
  const found: Misspelling[] = [];
  for (const name of environment) {
    if (known.has(name) || isServiceLink(name)) continue;
    let nearest: { setting: string; distance: number } | null = null;
    for (const setting of settings) {
      const distance = closeness(name.toUpperCase(), setting);
      if (distance !== null && (nearest === null || distance < nearest.distance)) nearest = { setting, distance };
    }
    if (nearest !== null) found.push({ name, meant: nearest.setting });
  }
  return found;
}

/** The warning's text: one clause per name (never its value, which may be a token). */
export function misspellingWarning(misspellings: readonly Misspelling[]): string {
  const each = misspellings.map(({ name, meant }) => `${name} is not a setting; did you mean ${meant}?`);
  return `${each.join(' ')} (a variable that is not a setting is ignored)`;
}
