import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, request, sleep } from '../../../bench/src/harness';

/** Health-check timings haproxy applies to every server (the readiness probe, possibly scaled down). */
export interface HealthCheck {
  /** Probe period (`inter`), ms. */
  readonly intervalMs: number;
  /** Consecutive failures before the server is taken out (`fall`). */
  readonly fall: number;
  /** Consecutive successes before it is put back (`rise`). */
  readonly rise: number;
  /** Check timeout, ms. */
  readonly timeoutMs: number;
}

/** Path of the haproxy binary, or null when it is not installed. */
export function haproxyBinary(): string | null {
  for (const p of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) {
    if (spawnSync(p, ['-v']).status === 0) return p;
  }
  return null;
}

/**
 * A real haproxy on 127.0.0.1 in front of one backend `be` whose servers are added and removed at
 * run time over the admin socket — the way an ingress controller follows a Service's endpoints.
 */
export class Haproxy {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly socketPath: string,
    /** Frontend URL, e.g. `http://127.0.0.1:PORT`. */
    readonly url: string,
    private readonly check: HealthCheck,
    private readonly logs: () => string,
  ) {}

  /** Starts haproxy in the foreground (`-db`) with an empty backend; resolves when it accepts connections. */
  static async start(check: HealthCheck): Promise<Haproxy> {
    const bin = haproxyBinary();
    if (!bin) throw new Error('haproxy not installed: apt-get update && apt-get install -y haproxy');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reliability-haproxy-'));
    const socketPath = path.join(dir, 'admin.sock');
    const port = await freePort();
    const cfg = [
      'global',
      `  stats socket ${socketPath} mode 600 level admin`,
      '  maxconn 2000',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      `  timeout check ${check.timeoutMs}ms`,
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      '  option httpchk GET /ready',
      '  http-check expect status 200',
      '',
    ].join('\n');
    const cfgPath = path.join(dir, 'haproxy.cfg');
    writeFileSync(cfgPath, cfg);
    let buf = '';
    const child = spawn(bin, ['-f', cfgPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (c: Buffer): void => {
      buf = (buf + c.toString('utf8')).slice(-65536);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const proxy = new Haproxy(child, dir, socketPath, `http://127.0.0.1:${port}`, check, () => buf);
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${buf}`);
      try {
        await request(`${proxy.url}/`, { timeoutMs: 500 });
        return proxy;
      } catch {
        await sleep(25);
      }
    }
    await proxy.stop();
    throw new Error(`haproxy did not start: ${buf}`);
  }

  /** Sends one runtime API command and returns haproxy's answer. */
  command(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(this.socketPath);
      let out = '';
      sock.on('data', (c: Buffer) => (out += c.toString('utf8')));
      sock.on('error', reject);
      sock.on('end', () => resolve(out.trim()));
      sock.end(`${cmd}\n`);
    });
  }

  /**
   * Adds a server and enables health checks on it. Call only once the instance answered `/ready` 200
   * (an endpoint joins the Service only after its readiness probe passed), because haproxy treats a
   * freshly enabled server as UP until its first check fails.
   */
  async addServer(name: string, port: number): Promise<void> {
    const c = this.check;
    const res = await this.command(
      `add server be/${name} 127.0.0.1:${port} check inter ${c.intervalMs} fall ${c.fall} rise ${c.rise}`,
    );
    if (!/New server registered/.test(res)) throw new Error(`add server ${name}: ${res}`);
    await this.command(`enable health be/${name}`);
    await this.command(`enable server be/${name}`);
  }

  /** Operational state per server name: `UP`, `DOWN` or `MAINT`. */
  async serverStates(): Promise<Record<string, string>> {
    const out = await this.command('show servers state be');
    const states: Record<string, string> = {};
    for (const line of out.split('\n')) {
      if (!line || line.startsWith('#') || /^\d+$/.test(line)) continue;
      const f = line.split(' ');
      // fields: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
      const op = Number(f[5]);
      const admin = Number(f[6]);
      states[f[3]] = admin & 1 || admin & 2 ? 'MAINT' : op === 2 ? 'UP' : 'DOWN';
    }
    return states;
  }

  /**
   * Puts a server in DRAIN: no new requests, in-flight ones finish — what an ingress does when the
   * endpoint of a terminating pod disappears from the EndpointSlice.
   */
  async drainServer(name: string): Promise<void> {
    const res = await this.command(`set server be/${name} state drain`);
    if (res !== '') throw new Error(`drain ${name}: ${res}`);
  }

  /** Removes a server whose process has exited (maintenance first, as `del server` requires). */
  async removeServer(name: string): Promise<void> {
    await this.command(`disable server be/${name}`);
    await this.command(`shutdown sessions server be/${name}`);
    const res = await this.command(`del server be/${name}`);
    if (!/Server deleted/.test(res)) throw new Error(`del server ${name}: ${res}`);
  }

  /** haproxy's own log output (health-check transitions), for diagnostics. */
  output(): string {
    return this.logs();
  }

  /** Stops haproxy and deletes its temp dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const kill = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(kill);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
