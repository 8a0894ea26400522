import type { Config } from '@conclave/server/config/index';
import type { Actor, ControlPlane } from '@conclave/server/control/types';

/** What a command gets: the open control plane, who runs it, and where to write. */
export interface CommandContext {
  control: ControlPlane;
  config: Config;
  actor: Actor;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}
