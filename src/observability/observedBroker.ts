// Counts what is published through a TaskBroker without the domain knowing: the dispatcher (the only
// publisher) is handed this wrapper instead of the broker. A publish resolves only once the broker
// confirmed every message (ports.ts), so "confirmed" and "failed" are read off the returned promise.
import type { TaskBroker } from "../domain/ports.js";

export type PublishKind = "transform" | "lookup";

/** Small functions only: no metrics library behind this interface. */
export interface PublishObserver {
  published(kind: PublishKind, messages: number): void;
  confirmed(kind: PublishKind, messages: number): void;
  failed(kind: PublishKind, messages: number): void;
}

/**
 * The same broker (every other member, adapter-specific ones such as queueDepth included, reaches the
 * original object), with publishTransformTasks and publishLookup observed.
 */
export function observeBroker<B extends TaskBroker>(broker: B, observer: PublishObserver): B {
  const observe = (kind: PublishKind, n: number, p: Promise<void>): Promise<void> => {
    observer.published(kind, n);
    p.then(
      () => observer.confirmed(kind, n),
      () => observer.failed(kind, n),
    );
    return p;
  };
  const publishTransformTasks: TaskBroker["publishTransformTasks"] = (requestId, tasks) =>
    observe("transform", tasks.length, broker.publishTransformTasks(requestId, tasks));
  const publishLookup: TaskBroker["publishLookup"] = (task) =>
    observe("lookup", 1, broker.publishLookup(task));
  return new Proxy(broker, {
    get(target, prop) {
      if (prop === "publishTransformTasks") return publishTransformTasks;
      if (prop === "publishLookup") return publishLookup;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
