import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One sample of a parsed exposition: its labels and value. */
export interface Sample {
  labels?: Record<string, string>;
  value?: string;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}

export interface Scrape {
  /** Families by name; a histogram `h` is read as its series `h_bucket`, `h_sum` and `h_count`. */
  families: Map<string, Family>;
  /** The declared type of each family (COUNTER, GAUGE, HISTOGRAM...). */
  types: Map<string, string>;
  contentType: string;
  text: string;
}

/** Scrapes `url` and parses the body with an independent Prometheus text parser. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  const text = await response.text();
  const types = new Map<string, string>();
  for (const family of parsePrometheusTextFormat(text) as Family[]) types.set(family.name, family.type);
  // The parser folds a histogram's series into one sample and drops their labels (it handles unlabelled
  // histograms only), so histograms are parsed a second time as untyped series, labels intact.
  const families = new Map<string, Family>();
  // Series of one untyped name that come back in several runs (a histogram's per label set) are merged.
  for (const family of parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped')) as Family[]) {
    const seen = families.get(family.name);
    if (seen) seen.metrics.push(...family.metrics);
    else families.set(family.name, family);
  }
  return { families, types, contentType: response.headers.get('content-type') ?? '', text };
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const matches = samplesOf(families, name, labels);
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${matches.length} samples match`);
  const value = matches[0]?.value;
  return value === undefined ? undefined : Number(value);
}

export function samplesOf(families: Map<string, Family>, name: string, labels: Record<string, string>): Sample[] {
  const family = families.get(name);
  if (!family) return [];
  return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}
