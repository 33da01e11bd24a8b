/**
 * Debian's chromium, headless, driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
 * JSON messages ended by a NUL byte on file descriptors 3 and 4), so no WebSocket library and no
 * browser download are needed. Finds the browser, installs it with apt-get when allowed, and offers
 * the two things the preview needs: load a page and read it, load a page and screenshot it.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where Debian's package puts the launcher; `CHROMIUM` overrides it. */
const DEBIAN_CHROMIUM = '/usr/bin/chromium';
export const INSTALL_COMMAND = 'apt-get install -y chromium';
/** A page load, an evaluation or a screenshot that takes longer than this is a hung browser. */
const COMMAND_TIMEOUT_MS = 20_000;

/** The chromium to use, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM, DEBIAN_CHROMIUM].filter((p): p is string => !!p);
  return candidates.find((p) => fs.existsSync(p));
}

/** Installing needs root (CI runs as root on Debian); elsewhere the user is told the command. */
export function canInstallChromium(): boolean {
  return process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get');
}

/**
 * The chromium to use, installed with apt-get first when it is missing and this process is root.
 * Throws, naming the command to run, when it is missing and cannot be installed here.
 */
export function ensureChromium(log: (line: string) => void = () => {}): string {
  const found = findChromium();
  if (found) return found;
  if (!canInstallChromium()) {
    throw new Error(`chromium is not installed (looked for ${DEBIAN_CHROMIUM}; set CHROMIUM to another path): ` +
      `run \`sudo apt-get update && sudo ${INSTALL_COMMAND}\`, then again`);
  }
  log(`chromium is missing: running apt-get update && ${INSTALL_COMMAND} (a minute or two, once)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const started = Date.now();
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', 'chromium'], { stdio: 'inherit', env });
  const installed = findChromium();
  if (!installed) throw new Error(`apt-get installed chromium but ${DEBIAN_CHROMIUM} is still missing`);
  log(`chromium installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return installed;
}

export interface ViewportSize {
  readonly width: number;
  readonly height: number;
}

/** One headless browser with one page, driven over the DevTools pipe. */
export class HeadlessChromium {
  /** Starts `executable` headless with a throw-away profile. */
  static async launch(executable: string): Promise<HeadlessChromium> {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-chromium-'));
    const args = [
      '--headless', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
      '--no-first-run', '--no-default-browser-check', '--disable-gpu', '--hide-scrollbars', '--mute-audio',
      '--disable-extensions', '--disable-background-networking', '--disable-dev-shm-usage',
      // Chromium's sandbox refuses to run as root, which is how CI runs.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      'about:blank',
    ];
    const child = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const browser = new HeadlessChromium(child, profile);
    try {
      await browser.attachToPage();
    } catch (err) {
      await browser.close();
      throw err;
    }
    return browser;
  }

  private readonly toBrowser: Writable;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly eventWaiters: Array<{ method: string; sessionId?: string; resolve: () => void }> = [];
  private nextId = 1;
  private sessionId: string | undefined;
  private stderr = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, private readonly profile: string) {
    this.toBrowser = child.stdio[3] as Writable;
    const fromBrowser = child.stdio[4] as Readable;
    let buffered = '';
    fromBrowser.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\0')) >= 0) {
        this.dispatch(JSON.parse(buffered.slice(0, end)) as Record<string, unknown>);
        buffered = buffered.slice(end + 1);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4000); });
    const failAll = (why: string): void => {
      for (const { reject } of this.pending.values()) reject(new Error(`${why}; its last output:\n${this.stderr}`));
      this.pending.clear();
    };
    // A launch failure (no such file, not executable) comes as 'error' without 'exit'; writing to a
    // browser that is gone fails on the pipe.
    child.on('error', (err) => failAll(`chromium could not start: ${err.message}`));
    this.toBrowser.on('error', (err) => failAll(`the DevTools pipe to chromium failed: ${err.message}`));
    fromBrowser.on('error', (err) => failAll(`the DevTools pipe from chromium failed: ${err.message}`));
    this.exited = new Promise((resolve) => {
      child.on('exit', () => { failAll('chromium exited'); resolve(); });
      child.on('error', () => resolve());
    });
  }

  /** Loads `url` and waits for its load event; `size` is the CSS viewport. */
  async open(url: string, size: ViewportSize): Promise<void> {
    await this.send('Emulation.setDeviceMetricsOverride', { width: size.width, height: size.height, deviceScaleFactor: 1, mobile: false });
    const loaded = this.nextEvent('Page.loadEventFired');
    await this.send('Page.navigate', { url });
    await loaded;
  }

  /** Evaluates `expression` in the page and returns its value (JSON-serializable results only). */
  async evaluate<T>(expression: string): Promise<T> {
    const answer = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (answer.exceptionDetails) throw new Error(`page script failed: ${JSON.stringify(answer.exceptionDetails)}`);
    return (answer.result as { value: T }).value;
  }

  /** A PNG of the whole viewport. */
  async screenshot(): Promise<Buffer> {
    const answer = await this.send('Page.captureScreenshot', { format: 'png' });
    return Buffer.from(answer.data as string, 'base64');
  }

  /** Closes the browser and removes its profile; harmless twice. */
  async close(): Promise<void> {
    if (this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.send('Browser.close', {}, false).catch(() => {});
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(killer);
    }
    fs.rmSync(this.profile, { recursive: true, force: true });
  }

  private async attachToPage(): Promise<void> {
    const { targetInfos } = await this.send('Target.getTargets', {}, false) as { targetInfos: Array<{ type: string; targetId: string }> };
    const page = targetInfos.find((t) => t.type === 'page');
    const targetId = page ? page.targetId : (await this.send('Target.createTarget', { url: 'about:blank' }, false)).targetId;
    const attached = await this.send('Target.attachToTarget', { targetId, flatten: true }, false);
    this.sessionId = attached.sessionId as string;
    await this.send('Page.enable', {});
  }

  private nextEvent(method: string): Promise<void> {
    return new Promise((resolve) => this.eventWaiters.push({ method, sessionId: this.sessionId, resolve }));
  }

  private dispatch(message: Record<string, unknown>): void {
    if (typeof message.id === 'number') {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiter) return;
      if (message.error) waiter.reject(new Error(`chromium: ${JSON.stringify(message.error)}`));
      else waiter.resolve(message.result as Record<string, unknown>);
      return;
    }
    const index = this.eventWaiters.findIndex((w) => w.method === message.method && w.sessionId === message.sessionId);
    if (index >= 0) this.eventWaiters.splice(index, 1)[0].resolve();
  }

  /** Sends one command, to the page's session unless `toPage` is false. */
  private send(method: string, params: Record<string, unknown>, toPage = true): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const message = { id, method, params, ...(toPage ? { sessionId: this.sessionId } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`chromium did not answer ${method} within ${COMMAND_TIMEOUT_MS} ms; its last output:\n${this.stderr}`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.toBrowser.write(JSON.stringify(message) + '\0');
    });
  }
}
