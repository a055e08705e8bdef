import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import type { StoreFactory } from './conformance.js'
import { storeConformance, storeConformanceV2 } from './conformance.js'

const memory: StoreFactory = async (limits, listener) => {
  const store = new MemoryTaskStore({ ...limits, listener })
  return { store, counted: async () => store.size() }
}

storeConformance('memory', memory)
storeConformanceV2('memory', memory)
