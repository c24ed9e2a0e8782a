/** Process-wide state that readiness and the socket layer share. */
export class Lifecycle {
  /** True once SIGTERM was received: readiness false, new connections refused. */
  draining = false;
}
