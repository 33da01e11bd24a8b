/**
 * The child side of a forked bench process (the simulated cluster, a fleet shard): each request is
 * answered with its handler's reply, or with an error reply carrying the request's id, and the
 * process ends itself, after stopping what it serves, when its parent goes away (IPC disconnect)
 * or after `lifetimeMs`, so a forgotten child never outlives a bench.
 */
export interface ParentRequest {
  readonly type: string;
  readonly id: number;
}

export interface ServeParentOptions<Request extends ParentRequest, Reply> {
  /** This file, for the message when it is started without a parent. */
  readonly file: string;
  /** Who forks it, for that message. */
  readonly parent: string;
  readonly handle: (request: Request) => Promise<Reply>;
  readonly stop: () => Promise<void>;
  readonly lifetimeMs: number;
}

export function serveParent<Request extends ParentRequest, Reply>(options: ServeParentOptions<Request, Reply>): void {
  if (!process.send) {
    process.stderr.write(`${options.file} runs as a child of ${options.parent} (fork with IPC), not alone.\n`);
    process.exit(2);
  }
  const send = (message: Reply | { type: 'error'; id: number; message: string }): void => { process.send?.(message); };
  process.on('message', (message) => {
    const request = message as Request;
    options.handle(request).then(send, (err: unknown) => {
      send({ type: 'error', id: request.id, message: err instanceof Error ? err.message : String(err) });
    });
  });
  process.on('disconnect', () => { void options.stop().finally(() => process.exit(0)); });
  setTimeout(() => { void options.stop().finally(() => process.exit(3)); }, options.lifetimeMs).unref();
}
