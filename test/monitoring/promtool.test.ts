import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  ALERT_NAMES,
  CANARY_HASH_ARG,
  canaryAnalysisMetrics,
  renderAnalysisQuery,
  renderMonitoringFiles,
  STABLE_HASH_ARG,
} from '../../charts/src/monitoring';
import { promtool, requireTool } from './tools';

const monitoringDir = resolve(__dirname, '..', '..', 'monitoring');

interface AlertTestCase {
  alertname: string;
  exp_alerts: unknown[];
}
interface PromtoolTestFile {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: AlertTestCase[] }>;
}

describe('generated monitoring files, checked by promtool', () => {
  let dir: string;
  beforeAll(() => {
    requireTool('promtool');
    dir = mkdtempSync(join(tmpdir(), 'promtool-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('promtool check rules accepts monitoring/rules.yml', () => {
    const result = promtool(['check', 'rules', join(monitoringDir, 'rules.yml')]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('promtool check config accepts monitoring/prometheus.yml (and the rules it loads)', () => {
    const result = promtool(['check', 'config', join(monitoringDir, 'prometheus.yml')]);
    expect(result.output).toContain('is valid prometheus config file syntax');
    expect(result.status).toBe(0);
  });

  it('promtool check config accepts a config rendered for another port and a 1 s interval', () => {
    const files = renderMonitoringFiles(
      {},
      { target: '127.0.0.1:18000', scrapeInterval: '1s', evaluationInterval: '1s', ruleFiles: ['rules.yml'] },
    );
    writeFileSync(join(dir, 'rules.yml'), files['rules.yml']);
    writeFileSync(join(dir, 'prometheus.yml'), files['prometheus.yml']);
    const result = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
    expect(result.status).toBe(0);
  });

  it('promtool check rules accepts every canary analysis query (arguments filled in as Argo Rollouts does)', () => {
    const metrics = canaryAnalysisMetrics({
      jobName: 'cats-dogs-classifier',
      predictRoute: '/predict',
      windowSeconds: 120,
      minPredictions: 50,
      maxErrorRatio: 0.05,
      maxLatencyP99Seconds: 0.5,
      maxPredictionMixDistance: 0.2,
    });
    const args = { [CANARY_HASH_ARG]: '6d5f8c7b9', [STABLE_HASH_ARG]: '58b9d7f4c' };
    const file = join(dir, 'canary-analysis.yml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'canary-analysis',
            rules: metrics.map((m) => ({
              record: `canary:${m.name.replace(/-/g, '_')}`,
              expr: renderAnalysisQuery(m.query, args),
            })),
          },
        ],
      }),
    );
    const result = promtool(['check', 'rules', file]);
    expect(result.output).toContain('SUCCESS: 3 rules found');
    expect(result.status).toBe(0);
  });

  it('promtool check rules rejects a broken rule (the check is real)', () => {
    writeFileSync(
      join(dir, 'broken.yml'),
      'groups:\n  - name: x\n    rules:\n      - record: a:b:c\n        expr: sum(rate(x[5m])\n',
    );
    expect(promtool(['check', 'rules', join(dir, 'broken.yml')]).status).not.toBe(0);
  });

  it('promtool test rules passes every unit test in monitoring/tests', () => {
    const files = readdirSync(join(monitoringDir, 'tests')).filter((f) => f.endsWith('.test.yml'));
    expect(files.length).toBeGreaterThan(0);
    const result = promtool(['test', 'rules', ...files], join(monitoringDir, 'tests'));
    expect(result.output).not.toContain('FAILED');
    expect(result.status).toBe(0);
  });

  it('unit-tests every alert both firing and not firing', () => {
    const cases = readdirSync(join(monitoringDir, 'tests'))
      .filter((f) => f.endsWith('.test.yml'))
      .flatMap(
        (f) => (parse(readFileSync(join(monitoringDir, 'tests', f), 'utf8')) as PromtoolTestFile).tests,
      )
      .flatMap((t) => t.alert_rule_test ?? []);
    for (const name of ALERT_NAMES) {
      const mine = cases.filter((c) => c.alertname === name);
      expect({ name, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ name, fires: true });
      expect({ name, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ name, quiet: true });
    }
  });
});
