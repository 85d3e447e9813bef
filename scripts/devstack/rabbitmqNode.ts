import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { assertPortFree, waitFor } from './ports';
import { SetupError, step } from './progress';

const run = promisify(execFile);
const RABBIT_BIN = process.env.RABBITMQ_BIN_DIR ?? '/usr/lib/rabbitmq/bin';

export interface IsolatedNodeOptions {
  // Short name; the Erlang node is <name>@localhost.
  name: string;
  baseDir: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  plugins?: string[];
  // The Erlang cookie, for nodes that must talk to each other (a cluster); default: one of the node's own.
  cookie?: string;
}

// A RabbitMQ node of our own (never the machine's shared one): its own ports,
// Erlang cookie, config and data directory, all under baseDir.
export class IsolatedRabbitNode {
  readonly nodeName: string;
  readonly dir: string;

  constructor(readonly options: IsolatedNodeOptions) {
    this.nodeName = `${options.name}@localhost`;
    this.dir = path.join(options.baseDir, options.name);
  }

  get amqpUrl(): string {
    return `amqp://guest:guest@127.0.0.1:${this.options.amqpPort}`;
  }

  get managementUrl(): string {
    return `http://127.0.0.1:${this.options.managementPort}`;
  }

  // Every rabbitmq* command must see the same HOME (cookie) and env as the node.
  get env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      ...process.env,
      HOME: d,
      RABBITMQ_CONF_ENV_FILE: '/dev/null',
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.options.amqpPort),
      RABBITMQ_DIST_PORT: String(this.options.distPort),
      RABBITMQ_MNESIA_BASE: path.join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: path.join(d, 'log'),
      RABBITMQ_CONFIG_FILE: path.join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: path.join(d, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(d, 'enabled_plugins'),
      RABBITMQ_PID_FILE: path.join(d, 'pid'),
    };
  }

  async start(): Promise<void> {
    const server = path.join(RABBIT_BIN, 'rabbitmq-server');
    if (!existsSync(server)) throw new SetupError(`RabbitMQ is not installed (${server} missing): apt-get install rabbitmq-server`);
    const { amqpPort, managementPort, distPort } = this.options;
    const hint = 'an isolated test node wants it; stop what listens there';
    await assertPortFree(amqpPort, `AMQP of ${this.nodeName}`, hint);
    await assertPortFree(managementPort, `management of ${this.nodeName}`, hint);
    await assertPortFree(distPort, `Erlang distribution of ${this.nodeName}`, hint);
    mkdirSync(this.dir, { recursive: true });
    // HOME is the node's dir: its .erlang.cookie is the one its CLI tools and its peers use.
    if (this.options.cookie) writeFileSync(path.join(this.dir, '.erlang.cookie'), this.options.cookie, { mode: 0o400 });
    writeFileSync(
      path.join(this.dir, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
        'management.tcp.ip = 127.0.0.1',
        `management.tcp.port = ${managementPort}`,
        'loopback_users = none',
        '',
      ].join('\n'),
    );
    const plugins = ['rabbitmq_management', ...(this.options.plugins ?? [])];
    writeFileSync(path.join(this.dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
    step(`starting isolated RabbitMQ node ${this.nodeName} (AMQP ${amqpPort}, management ${managementPort})`);
    // cwd: the node's own dir, so an erl_crash.dump or MnesiaCore file lands there, not in the clone.
    const child = spawn(server, ['-detached'], { cwd: this.dir, env: this.env, stdio: 'ignore' });
    await new Promise((resolve) => child.on('exit', resolve));
    await waitFor(`RabbitMQ node ${this.nodeName} (logs: ${path.join(this.dir, 'log')})`, () => this.isRunning(), 120_000, 1_000);
    await waitFor(`management API of ${this.nodeName}`, () => this.managementAnswers(), 60_000, 500);
  }

  async ctl(args: string[], timeoutMs = 60_000): Promise<string> {
    const { stdout } = await run(path.join(RABBIT_BIN, 'rabbitmqctl'), ['-n', this.nodeName, ...args], {
      env: this.env,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  async isRunning(): Promise<boolean> {
    try {
      await this.ctl(['await_startup', '--timeout', '5'], 10_000);
      return true;
    } catch {
      return false;
    }
  }

  private async managementAnswers(): Promise<boolean> {
    const auth = Buffer.from('guest:guest').toString('base64');
    const res = await fetch(`${this.managementUrl}/api/overview`, { headers: { authorization: `Basic ${auth}` } });
    return res.ok;
  }

  async stop(): Promise<void> {
    try {
      await this.ctl(['shutdown'], 60_000);
    } catch {
      // Already down is fine; the pid file tells us if something lingers.
    }
  }

  // Drops every queue, exchange, user, vhost and message: used between tests.
  async reset(): Promise<void> {
    await this.ctl(['stop_app']);
    await this.ctl(['reset']);
    await this.ctl(['start_app']);
    await waitFor(`management API of ${this.nodeName}`, () => this.managementAnswers(), 60_000, 500);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
