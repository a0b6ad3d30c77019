import type { LaunchSpec, TransformerLauncher } from "../../domain/ports.js";

/** TRANSFORMER_MANAGER_ENABLED=false: transformers are run by someone else (upstream supports this too). */
export class DisabledLauncher implements TransformerLauncher {
  readonly kind = "disabled";
  async start(_spec: LaunchSpec): Promise<void> {}
  async shutdown(_requestId: string): Promise<void> {}
}
