import t from 'tap'
import { MemoryStorage } from '../../../src/adapters/storage/memory-storage.js'
import { storageContract } from './storage-contract.js'

storageContract(t, 'MemoryStorage', async () => new MemoryStorage())
