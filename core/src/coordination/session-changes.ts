import type { Coordinator, Unsubscribe } from './coordinator.js'
import { coordinationKeys } from './keys.js'

/**
 * "Session X changed": published by whoever commits a state change of a session (its owner, or the API
 * settling a session no node holds), heard by every control-plane waiting on that session.
 */
export async function publishSessionChange(coordinator: Coordinator, sessionId: string): Promise<void> {
  await coordinator.publish(coordinationKeys.sessionChangesChannel(), sessionId)
}

export function subscribeSessionChanges(
  coordinator: Coordinator,
  onChange: (sessionId: string) => void,
): Promise<Unsubscribe> {
  return coordinator.subscribe(coordinationKeys.sessionChangesChannel(), onChange)
}
