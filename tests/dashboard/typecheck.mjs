// Type-checks dashboards/mobasher.json against Grafana's published schema (@grafana/schema, pinned
// in package.json): writes a TypeScript file in which the whole dashboard is a `Dashboard` and each
// panel is also typed with its own plugin's Options / FieldConfig and Prometheus-shaped targets,
// then runs `tsc --noEmit --strict` on it. Object literals get TypeScript's excess-property check,
// so a misspelt key fails as surely as a wrong type.
// usage: node typecheck.mjs DASHBOARD.json OUT_DIR   (OUT_DIR holds node_modules; prints tsc's errors)
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const [, , dashboardPath, outDir] = process.argv;
if (!dashboardPath || !outDir) {
  console.error('usage: node typecheck.mjs DASHBOARD.json OUT_DIR');
  process.exit(2);
}
const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8'));
const cfg = (name, path) => `@grafana/schema/dist/esm/raw/composable/${path}/panelcfg/x/${name}PanelCfg_types.gen`;
// Panel type -> its plugin's generated types (Options, and FieldConfig where the plugin has one).
const plugins = {
  timeseries: { mod: cfg('TimeSeries', 'timeseries'), field: true },
  stat: { mod: cfg('Stat', 'stat'), field: false },
  table: { mod: cfg('Table', 'table'), field: true },
  'state-timeline': { mod: cfg('StateTimeline', 'statetimeline'), field: true },
};
const lines = [
  "import type { AnnotationQuery, Dashboard, DataQuery, Panel, RowPanel } from '@grafana/schema';",
];
Object.entries(plugins).forEach(([type, p], i) => {
  lines.push(`import type { Options as O${i}${p.field ? `, FieldConfig as F${i}` : ''} } from '${p.mod}';`);
  p.index = i;
});
lines.push(`
// The Prometheus data source's query (Grafana's public/app/plugins/datasource/prometheus types).
interface PromQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  editorMode?: 'code' | 'builder';
  range?: boolean;
  instant?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  exemplar?: boolean;
}
// The schema's enums (ThresholdsMode.Absolute = 'absolute', ...) as the literals a JSON file holds.
type Json<T> = T extends string ? (string extends T ? string : \`\${T}\`)
  : T extends number | boolean | null | undefined ? T
  : T extends Array<infer E> ? Array<Json<E>>
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
type Typed<O, F> = Json<Omit<Panel<O, F>, 'options' | 'targets'> & { options: O; targets: PromQuery[] }>;
type Row = Json<RowPanel>;
type Dash = Json<Omit<Dashboard, 'annotations'> & { annotations: { list: AnnotationQuery<PromQuery>[] } }>;
`);
lines.push(`export const dashboard: Dash = ${JSON.stringify(dashboard, null, 2)};`);
let unknown = [];
for (const panel of dashboard.panels ?? []) {
  if (panel.type === 'row') {
    lines.push(`export const panel_${panel.id}: Row = ${JSON.stringify(panel)};`);
    continue;
  }
  const p = plugins[panel.type];
  if (!p) {
    unknown.push(`${panel.id} (${panel.type})`);
    continue;
  }
  const field = p.field ? `F${p.index}` : 'Record<string, unknown>';
  lines.push(`export const panel_${panel.id}: Typed<O${p.index}, ${field}> = ${JSON.stringify(panel)};`);
}
if (unknown.length) {
  console.error(`typecheck: no schema mapped for panel types: ${unknown.join(', ')}`);
  process.exit(1);
}
const file = join(outDir, 'mobasher-dashboard.check.ts');
writeFileSync(file, lines.join('\n') + '\n');
try {
  execFileSync(join(outDir, 'node_modules', '.bin', 'tsc'),
    ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
     '--skipLibCheck', file], { stdio: 'inherit' });
} catch (e) {
  console.error(`typecheck: tsc found errors in ${file} (generated from ${dashboardPath})`);
  process.exit(1);
}
console.log(`typecheck: ${dashboardPath}: the dashboard and its ${(dashboard.panels ?? []).length} panels match @grafana/schema`);
