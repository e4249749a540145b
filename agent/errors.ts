import type { AgentErrorReason } from '../lib/agent-api.ts';

/** A failure the agent reports to the plugin as `{ reason, message }` with the matching HTTP status. */
export class AgentFailure extends Error {
  constructor(
    readonly reason: AgentErrorReason,
    message: string,
  ) {
    super(message);
  }
}
