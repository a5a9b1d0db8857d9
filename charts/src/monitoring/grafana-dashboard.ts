/**
 * Small typed builders for Grafana dashboard JSON (schema version 39). Only what the classifier's
 * dashboard needs: time series and table panels on a Prometheus datasource chosen by a variable.
 * Output is plain data with a fixed key order, so `JSON.stringify` of it is deterministic.
 */

/** The datasource reference every panel uses: the dashboard's `datasource` variable. */
export const DATASOURCE_REF = { type: 'prometheus', uid: '${datasource}' } as const;

/** Grafana unit ids used by the panels. */
export type PanelUnit = 'reqps' | 'percentunit' | 's' | 'short' | 'bytes' | 'none';

/** One PromQL query of a panel. */
export interface PanelQuery {
  readonly expr: string;
  /** Legend template, e.g. `{{status}}`. */
  readonly legend: string;
  /** `table` panels read instant values. */
  readonly instant?: boolean;
}

/** What a panel shows; position and id are assigned by `dashboard()`. */
export interface PanelSpec {
  readonly type: 'timeseries' | 'table';
  readonly title: string;
  readonly description: string;
  readonly unit: PanelUnit;
  readonly queries: readonly PanelQuery[];
  /** Axis bounds, e.g. 0..1 for ratios. */
  readonly min?: number;
  readonly max?: number;
  /** Full width instead of half. */
  readonly wide?: boolean;
}

/** A time-series panel. */
export function timeseries(spec: Omit<PanelSpec, 'type'>): PanelSpec {
  return { type: 'timeseries', ...spec };
}

/** A table of instant values (e.g. which pod serves which model version). */
export function table(
  spec: Omit<PanelSpec, 'type' | 'queries'> & { readonly queries: readonly PanelQuery[] },
): PanelSpec {
  return { type: 'table', ...spec, queries: spec.queries.map((q) => ({ ...q, instant: true })) };
}

/** A row of panels under a collapsible title. */
export interface PanelRow {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

/** Grafana's JSON for one panel. */
export interface GrafanaPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly datasource?: typeof DATASOURCE_REF;
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly collapsed?: boolean;
  readonly panels?: readonly GrafanaPanel[];
  readonly fieldConfig?: {
    readonly defaults: { readonly unit: PanelUnit; readonly min?: number; readonly max?: number };
    readonly overrides: readonly never[];
  };
  readonly options?: Record<string, unknown>;
  readonly targets?: ReadonlyArray<{
    readonly datasource: typeof DATASOURCE_REF;
    readonly expr: string;
    readonly legendFormat: string;
    readonly instant: boolean;
    readonly range: boolean;
    readonly refId: string;
  }>;
}

/** Grafana's JSON for a dashboard. */
export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly timezone: 'browser';
  readonly editable: boolean;
  readonly schemaVersion: number;
  readonly version: number;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: {
    readonly list: ReadonlyArray<{
      readonly name: string;
      readonly label: string;
      readonly type: 'datasource';
      readonly query: 'prometheus';
      readonly current: Record<string, never>;
      readonly hide: number;
    }>;
  };
  readonly panels: readonly GrafanaPanel[];
}

const PANEL_HEIGHT = 8;
const HALF_WIDTH = 12;
const FULL_WIDTH = 24;

/** Settings of a dashboard. */
export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly rows: readonly PanelRow[];
  /** @default '30s' */
  readonly refresh?: string;
}

/**
 * Lays the rows out top to bottom, two panels per line (or one when `wide`), numbering panels in order.
 */
export function dashboard(spec: DashboardSpec): GrafanaDashboard {
  const panels: GrafanaPanel[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      gridPos: { h: 1, w: FULL_WIDTH, x: 0, y },
      collapsed: false,
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const panel of row.panels) {
      const w = panel.wide ? FULL_WIDTH : HALF_WIDTH;
      if (x + w > FULL_WIDTH) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(renderPanel(panel, id++, { h: PANEL_HEIGHT, w, x, y }));
      x += w;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    timezone: 'browser',
    editable: false,
    schemaVersion: 39,
    version: 1,
    refresh: spec.refresh ?? '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
        },
      ],
    },
    panels,
  };
}

function renderPanel(spec: PanelSpec, id: number, gridPos: GrafanaPanel['gridPos']): GrafanaPanel {
  const defaults = {
    unit: spec.unit,
    ...(spec.min === undefined ? {} : { min: spec.min }),
    ...(spec.max === undefined ? {} : { max: spec.max }),
  };
  const options: Record<string, unknown> =
    spec.type === 'timeseries'
      ? {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        }
      : { showHeader: true };
  return {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE_REF,
    gridPos,
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: spec.queries.map((q, i) => ({
      datasource: DATASOURCE_REF,
      expr: q.expr,
      legendFormat: q.legend,
      instant: q.instant ?? false,
      range: !(q.instant ?? false),
      refId: String.fromCharCode(65 + i),
    })),
  };
}
