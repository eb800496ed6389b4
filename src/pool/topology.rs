//! The machine's CPUs and NUMA nodes, read from Linux sysfs, and where to put
//! (and pin) each worker.
//!
//! Files read, all relative to a root directory (`/` on a real machine, a
//! temp dir in tests):
//! - `sys/devices/system/cpu/online`: online CPUs, as a CPU list;
//! - `sys/devices/system/node/nodeN/cpulist`: the CPUs of node N (no `node`
//!   directory means one node holding every online CPU);
//! - `proc/self/status`, line `Cpus_allowed_list:`: the CPUs this process may
//!   run on (its affinity mask). Missing means every online CPU.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One NUMA node and its CPUs (sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumaNode {
    /// The node number (`N` in `nodeN`).
    pub id: usize,
    /// Its CPUs, online or not, sorted.
    pub cpus: Vec<usize>,
}

/// What the machine looks like to this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Online CPUs, sorted.
    pub online: Vec<usize>,
    /// CPUs in this process's affinity mask, sorted.
    pub allowed: Vec<usize>,
    /// NUMA nodes, by id.
    pub nodes: Vec<NumaNode>,
}

/// Why the topology could not be read.
#[derive(Debug)]
pub enum TopologyError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// A file did not hold a valid CPU list.
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            TopologyError::Parse { path, reason } => {
                write!(f, "bad CPU list in {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for TopologyError {}

/// Where one worker goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The NUMA node it belongs to (for steal order).
    pub node: usize,
    /// The CPU to pin it to; `None` when there are more workers than usable
    /// CPUs (those run unpinned).
    pub cpu: Option<usize>,
}

/// How pinning one worker went, as `pool_config()` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    /// `numa_aware` is off: the worker runs wherever the OS puts it.
    NotRequested,
    /// Pinned to `cpu`, on NUMA node `node`.
    Pinned {
        /// The CPU.
        cpu: usize,
        /// Its NUMA node.
        node: usize,
    },
    /// Pinning was asked for but did not happen; the worker runs unpinned.
    Unpinned {
        /// Why (no CPU left for it, or the OS refused).
        reason: String,
    },
}

/// Parses a Linux CPU list such as `0-3,8,10-11` (sorted, deduplicated). An
/// empty (or blank) list is valid and empty.
pub fn parse_cpu_list(text: &str) -> Result<Vec<usize>, String> {
    let text = text.trim();
    let mut cpus = Vec::new();
    if text.is_empty() {
        return Ok(cpus);
    }
    for part in text.split(',') {
        let part = part.trim();
        let number = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{s}` is not a CPU number (in `{text}`)"))
        };
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo > hi {
                    return Err(format!("range `{part}` runs backwards"));
                }
                if hi - lo > 65_536 {
                    return Err(format!("range `{part}` is implausibly large"));
                }
                cpus.extend(lo..=hi);
            }
            None => cpus.push(number(part)?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn read(path: PathBuf) -> Result<String, TopologyError> {
    fs::read_to_string(&path).map_err(|error| TopologyError::Read { path, error })
}

fn read_cpu_list(path: PathBuf) -> Result<Vec<usize>, TopologyError> {
    let text = read(path.clone())?;
    parse_cpu_list(&text).map_err(|reason| TopologyError::Parse { path, reason })
}

impl Topology {
    /// Reads the topology under `root` (see the module docs for the files).
    pub fn from_root(root: &Path) -> Result<Topology, TopologyError> {
        let online = read_cpu_list(root.join("sys/devices/system/cpu/online"))?;
        let node_dir = root.join("sys/devices/system/node");
        let mut nodes = Vec::new();
        if let Ok(entries) = fs::read_dir(&node_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("node"))
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                let cpus = read_cpu_list(entry.path().join("cpulist"))?;
                nodes.push(NumaNode { id, cpus });
            }
        }
        nodes.sort_by_key(|n| n.id);
        if nodes.is_empty() {
            nodes.push(NumaNode {
                id: 0,
                cpus: online.clone(),
            });
        }
        let status_path = root.join("proc/self/status");
        let allowed = match fs::read_to_string(&status_path) {
            Ok(status) => match status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            {
                Some(list) => parse_cpu_list(list).map_err(|reason| TopologyError::Parse {
                    path: status_path.clone(),
                    reason,
                })?,
                None => online.clone(),
            },
            Err(_) => online.clone(),
        };
        Ok(Topology {
            online,
            allowed,
            nodes,
        })
    }

    /// Reads this machine's topology; if sysfs is unreadable (not Linux, a
    /// locked-down container), one node holding `num_cpus` CPUs.
    pub fn detect() -> Topology {
        Topology::from_root(Path::new("/")).unwrap_or_else(|_| Topology::flat(num_cpus::get()))
    }

    /// One node with CPUs `0..cpus`, all allowed.
    pub fn flat(cpus: usize) -> Topology {
        let all: Vec<usize> = (0..cpus.max(1)).collect();
        Topology {
            online: all.clone(),
            allowed: all.clone(),
            nodes: vec![NumaNode { id: 0, cpus: all }],
        }
    }

    /// CPUs that are online and in the affinity mask, sorted.
    pub fn usable_cpus(&self) -> Vec<usize> {
        self.online
            .iter()
            .copied()
            .filter(|c| self.allowed.binary_search(c).is_ok())
            .collect()
    }

    /// Usable CPUs grouped by node, nodes without usable CPUs left out.
    /// Usable CPUs that no node lists join the first group.
    fn usable_by_node(&self) -> Vec<(usize, Vec<usize>)> {
        let usable = self.usable_cpus();
        let mut groups: Vec<(usize, Vec<usize>)> = self
            .nodes
            .iter()
            .map(|n| {
                let cpus = n
                    .cpus
                    .iter()
                    .copied()
                    .filter(|c| usable.binary_search(c).is_ok())
                    .collect::<Vec<_>>();
                (n.id, cpus)
            })
            .filter(|(_, cpus)| !cpus.is_empty())
            .collect();
        let orphans: Vec<usize> = usable
            .iter()
            .copied()
            .filter(|c| !self.nodes.iter().any(|n| n.cpus.contains(c)))
            .collect();
        if !orphans.is_empty() {
            match groups.first_mut() {
                Some((_, cpus)) => {
                    cpus.extend(orphans);
                    cpus.sort_unstable();
                }
                None => groups.push((self.nodes.first().map_or(0, |n| n.id), orphans)),
            }
        }
        groups
    }

    /// Spreads `workers` over the nodes round-robin (worker 0 on the first
    /// node, worker 1 on the second, ...), each on its own usable CPU. When
    /// the CPUs run out, the rest get no CPU (they run unpinned) but still a
    /// node, round-robin.
    pub fn place(&self, workers: usize) -> Vec<Placement> {
        let groups = self.usable_by_node();
        if groups.is_empty() {
            return vec![Placement { node: 0, cpu: None }; workers];
        }
        let mut next = vec![0usize; groups.len()];
        let mut left: usize = groups.iter().map(|(_, c)| c.len()).sum();
        (0..workers)
            .map(|i| {
                let home = i % groups.len();
                if left == 0 {
                    return Placement {
                        node: groups[home].0,
                        cpu: None,
                    };
                }
                // The home node, else the next node with a CPU left.
                let g = (0..groups.len())
                    .map(|k| (home + k) % groups.len())
                    .find(|&g| next[g] < groups[g].1.len())
                    .unwrap_or(home);
                let cpu = groups[g].1[next[g]];
                next[g] += 1;
                left -= 1;
                Placement {
                    node: groups[g].0,
                    cpu: Some(cpu),
                }
            })
            .collect()
    }
}

/// Pins the calling thread to `placement`'s CPU. Never fails hard: the
/// outcome says what happened.
pub(crate) fn pin_current(placement: Placement) -> PinOutcome {
    let Some(cpu) = placement.cpu else {
        return PinOutcome::Unpinned {
            reason: "more workers than usable CPUs".to_string(),
        };
    };
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        PinOutcome::Pinned {
            cpu,
            node: placement.node,
        }
    } else {
        PinOutcome::Unpinned {
            reason: format!("the OS refused to pin to CPU {cpu}"),
        }
    }
}
