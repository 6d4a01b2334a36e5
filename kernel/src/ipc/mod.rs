//! System V IPC (Linux ipc/): shared memory ([`shm`]). Each kind keeps
//! its own registry and lock; see the module.

pub mod shm;
