// Starting the servers under test: `n` replicas of the gateway or of the
// baseline on one Redis, as processes the meters can read.
import { baseline, freePort, gateway } from '../lib.mjs';

/**
 * @param kind 'gateway' | 'baseline'
 * @param options.secret JWT secret the gateway verifies with
 * @param options.nodeArgs extra node flags for the replicas (profiling)
 * @param options.gatewayEnv extra environment for the gateway's replicas (`--gateway-env`)
 */
export async function startServers(kind, n, redisUrl, { secret, nodeArgs = [], gatewayEnv = {} }) {
  const prefix = `bench${Date.now()}`;
  const start = kind === 'gateway' ? gateway(secret, nodeArgs, gatewayEnv) : baseline(nodeArgs);
  const servers = [];
  for (let i = 0; i < n; i++) {
    const { child, url } = await start(await freePort(), redisUrl, prefix);
    servers.push({ kind, url, child, pid: child.pid, role: `replica${i + 1}` });
  }
  return servers;
}

/** Stops replicas; profiled ones exit cleanly (SIGINT) so V8 writes their profiles. */
export function stopServers(servers, profiled) {
  return Promise.all(
    servers.map(
      (s) =>
        new Promise((resolve) => {
          if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
          s.child.once('exit', resolve);
          s.child.kill(profiled ? 'SIGINT' : 'SIGKILL');
        }),
    ),
  );
}
