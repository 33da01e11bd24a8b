/**
 * Structured JSON logs, one object a line on stderr (stdout is kept for `--print`).
 * Level names follow AWS_VPC_K8S_CNI_LOGLEVEL (DEBUG, INFO, WARN, ERROR).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields }) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that drops everything, for tests that do not read logs. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * Sends every `process` warning (deprecations, experimental features, the AWS SDK's multi-line
 * NodeVersionSupportWarning, ...) to `logger` as one `warn` line, and removes Node's default
 * printer, which writes them to stderr as plain, often multi-line, text. Call once at start-up,
 * before the AWS SDK and the Kubernetes client are created.
 */
export function routeProcessWarnings(logger: Logger, target: NodeJS.Process = process): void {
  // Node's printer is the one 'warning' listener it installs at boot; ours replaces it.
  target.removeAllListeners('warning');
  target.on('warning', (warning: Error & { code?: string; detail?: string }) => {
    logger.warn('process warning', {
      warning: warning.name,
      code: warning.code,
      // Multi-line text read as one sentence: lines trimmed, blank lines dropped.
      detail: [warning.message, warning.detail]
        .filter((text): text is string => typeof text === 'string')
        .flatMap((text) => text.split('\n'))
        .map((line) => line.trim())
        .filter((line) => line !== '')
        .join(' '),
    });
  });
}
