//! The `--query-gpu` fields this crate asks for, and the lists it tries in order.

use std::fmt;

/// One `nvidia-smi --query-gpu` field this crate knows how to read.
///
/// Output columns are read by **position**, in the order of the field list that was passed on
/// the command line (the header text is never consulted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueryField {
    /// `index`: 0-based GPU index in PCI order. Required: a line without it is malformed.
    Index,
    /// `uuid`: `GPU-xxxxxxxx-…`.
    Uuid,
    /// `name`: product name, e.g. `NVIDIA H100 80GB HBM3`.
    Name,
    /// `utilization.gpu`: % of time at least one kernel ran. `[N/A]` on MIG-enabled GPUs.
    UtilizationGpu,
    /// `utilization.memory`: % of time device memory was read or written. `[N/A]` on MIG.
    UtilizationMemory,
    /// `memory.used`, MiB.
    MemoryUsed,
    /// `memory.total`, MiB.
    MemoryTotal,
    /// `power.draw`, W (a 1 s average on Ampere and newer).
    PowerDraw,
    /// `power.limit`, W.
    PowerLimit,
    /// `temperature.gpu`, °C.
    TemperatureGpu,
    /// `clocks.sm` (alias of `clocks.current.sm`), MHz.
    ClocksSm,
    /// `clocks.mem` (alias of `clocks.current.memory`), MHz.
    ClocksMem,
    /// `pstate`: `P0` … `P12`.
    Pstate,
}

impl QueryField {
    /// The name passed to `--query-gpu=`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Uuid => "uuid",
            Self::Name => "name",
            Self::UtilizationGpu => "utilization.gpu",
            Self::UtilizationMemory => "utilization.memory",
            Self::MemoryUsed => "memory.used",
            Self::MemoryTotal => "memory.total",
            Self::PowerDraw => "power.draw",
            Self::PowerLimit => "power.limit",
            Self::TemperatureGpu => "temperature.gpu",
            Self::ClocksSm => "clocks.sm",
            Self::ClocksMem => "clocks.mem",
            Self::Pstate => "pstate",
        }
    }

    /// The field whose `--query-gpu` name is `name`, if this crate knows it.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        FULL_FIELDS.iter().copied().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for QueryField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The full field list, tried first.
pub const FULL_FIELDS: &[QueryField] = &[
    QueryField::Index,
    QueryField::Uuid,
    QueryField::Name,
    QueryField::UtilizationGpu,
    QueryField::UtilizationMemory,
    QueryField::MemoryUsed,
    QueryField::MemoryTotal,
    QueryField::PowerDraw,
    QueryField::PowerLimit,
    QueryField::TemperatureGpu,
    QueryField::ClocksSm,
    QueryField::ClocksMem,
    QueryField::Pstate,
];

/// The fallback list: fields every driver of the last decade accepts. Used when nvidia-smi
/// rejects the full list without naming the offending field.
pub const SAFE_FIELDS: &[QueryField] = &[
    QueryField::Index,
    QueryField::Uuid,
    QueryField::Name,
    QueryField::UtilizationGpu,
    QueryField::MemoryUsed,
    QueryField::MemoryTotal,
    QueryField::PowerDraw,
    QueryField::TemperatureGpu,
];

/// `field1,field2,…` for `--query-gpu=`.
#[must_use]
pub fn query_arg(fields: &[QueryField]) -> String {
    let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    format!("--query-gpu={}", names.join(","))
}
