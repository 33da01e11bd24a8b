/**
 * One slice of the simulated cluster's ipamd fleet, in its own process: direct mode at 100,000
 * nodes needs one listening socket per node, more than one process may open here (ulimit -n), so
 * the cluster process (bench/cluster-process.ts) forks several of these, each serving endpoints
 * firstIndex..firstIndex+count-1 with the addresses, names, payloads and behaviours they have in
 * the whole fleet. Driven over the fork IPC channel (FleetShardRequest in bench/cluster-protocol.ts).
 *
 * The process ends itself when its parent goes away (IPC disconnect) or after LIFETIME_MS.
 */
import * as fs from 'node:fs';
import { startIpamdFleet, type IpamdFleet } from '../test/support/ipamd-fleet';
import { isHanging, type FleetShardCounters, type FleetShardReply, type FleetShardRequest, type FleetShardSpec } from './cluster-protocol';
import { serveParent } from './ipc-child';

/** As the cluster process's own bound: no benchmark stage lasts this long. */
const LIFETIME_MS = 40 * 60 * 1000;

let fleet: IpamdFleet | undefined;
let cpuFrom = process.cpuUsage();

async function start(spec: FleetShardSpec): Promise<number> {
  if (fleet) throw new Error('this fleet shard is already serving: send stop first');
  const payloads = spec.payloadFiles.map((file) => fs.readFileSync(file, 'utf8'));
  if (payloads.length === 0) throw new Error('FleetShardSpec.payloadFiles is empty: name at least one exposition file');
  fleet = await startIpamdFleet({
    count: spec.count,
    firstIndex: spec.firstIndex,
    fleetSize: spec.fleetSize,
    port: spec.port,
    payload: (i) => payloads[i % payloads.length],
    behaviour: (i) => (isHanging(i, spec.hangEvery) ? 'hang' : 'ok'),
    latencyMs: spec.latencyMs,
    keepAlive: spec.keepAlive,
  });
  cpuFrom = process.cpuUsage();
  return fleet.port;
}

function counters(reset: boolean): FleetShardCounters {
  if (!fleet) throw new Error('this fleet shard is not serving: send start first');
  const cpu = process.cpuUsage(cpuFrom);
  const result: FleetShardCounters = {
    requests: fleet.counters.requests,
    peakInFlight: fleet.counters.peakInFlight,
    connectionsAccepted: fleet.counters.connectionsAccepted,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  if (reset) {
    fleet.resetCounters();
    cpuFrom = process.cpuUsage();
  }
  return result;
}

async function stop(): Promise<void> {
  const current = fleet;
  fleet = undefined;
  await current?.close();
}

async function handle(request: FleetShardRequest): Promise<FleetShardReply> {
  switch (request.type) {
    case 'start':
      return { type: 'started', id: request.id, port: await start(request.spec) };
    case 'counters':
      return { type: 'counters', id: request.id, counters: counters(request.reset) };
    case 'stop':
      await stop();
      return { type: 'stopped', id: request.id };
  }
}

// The cluster process is gone (stopped, crashed or killed), or LIFETIME_MS passed: close the sockets and leave.
serveParent({ file: 'bench/fleet-shard-process.ts', parent: 'bench/cluster-process.ts', handle, stop, lifetimeMs: LIFETIME_MS });
