import type { Redis } from "ioredis";
import type { SidecarConfig } from "../config";
import { MemoryBroker } from "./memory";
import { RedisBroker } from "./redis";
import type { Broker } from "./types";

/** On Redis when the sidecar has one (any number of replicas), else in this process (one replica). */
export function createBroker(config: SidecarConfig, redis: Redis | null): Broker {
  return redis
    ? new RedisBroker(redis, config.RELAY_BROKER_KEY_PREFIX, config.RELAY_BROKER_MAX_WAITERS)
    : new MemoryBroker();
}
