//! CPU time of processes from `/proc`, for the benches.

/// utime + stime of a process or thread from its `stat` file, in clock
/// ticks (0 when unreadable).
pub fn stat_ticks(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0)
}

/// A process's CPU time in clock ticks (100 per second on Linux; 0 when
/// unreadable).
pub fn process_ticks(pid: u32) -> u64 {
    stat_ticks(&format!("/proc/{pid}/stat"))
}
