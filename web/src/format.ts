const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : integer.format(value);
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${unit === 0 ? integer.format(v) : decimal.format(v)} ${units[unit]}`;
}

/** Rows per second, shortened: 950, 12.5k, 1.2M. */
export function rate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return `${compact(value)}/s`;
}

export function compact(value: number): string {
  if (Math.abs(value) >= 1e6) return `${decimal.format(value / 1e6)}M`;
  if (Math.abs(value) >= 1e4) return `${integer.format(value / 1e3)}k`;
  if (Math.abs(value) >= 1e3) return `${decimal.format(value / 1e3)}k`;
  return Math.abs(value) < 10 ? decimal.format(value) : integer.format(value);
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${integer.format(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${decimal.format(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${integer.format(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A timestamp as local date and time, to the second. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = new Date().toDateString() === date.toDateString();
  const clock = date.toLocaleTimeString('en-GB', { hour12: false });
  return today ? clock : `${date.toLocaleDateString('en-CA')} ${clock}`;
}
