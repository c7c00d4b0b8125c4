//! Fleet layout (`amt-sim fleet`): each device's identity and listening addresses, derived from a
//! base UUID, a base address and its index.

use std::net::{IpAddr, SocketAddr};

use amt_wire::hello::DeviceUuid;

/// Where the devices of a fleet listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Every device on the same address; device `i` on ports `http + 2i` and `tls + 2i`, or on
    /// ports the OS picks when the base port is 0.
    Ports {
        /// The shared address.
        addr: IpAddr,
        /// Device 0's HTTP port (0: any).
        http: u16,
        /// Device 0's TLS port (0: any).
        tls: u16,
    },
    /// Device `i` on address `base + i` with the same two ports: what a provisioning server that
    /// connects back to the Hello's source on a fixed port (MeshCentral: 16993) needs.
    Addresses {
        /// Device 0's address.
        base: IpAddr,
        /// The HTTP port of every device.
        http: u16,
        /// The TLS port of every device.
        tls: u16,
    },
}

/// Why a fleet layout does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Device `index`'s port would exceed 65535.
    #[error("device {index}: port {base} + 2 x {index} is past 65535")]
    PortOverflow {
        /// The device index.
        index: u32,
        /// The base port.
        base: u16,
    },
    /// Device `index`'s address would wrap around the address space.
    #[error("device {index}: address {base} + {index} is out of range")]
    AddressOverflow {
        /// The device index.
        index: u32,
        /// The base address.
        base: IpAddr,
    },
}

impl Layout {
    /// Device `index`'s (HTTP, TLS) listening addresses.
    ///
    /// # Errors
    /// When the index runs past the port or address range.
    pub fn endpoints(&self, index: u32) -> Result<(SocketAddr, SocketAddr), LayoutError> {
        match *self {
            Self::Ports { addr, http, tls } => {
                let port = |base: u16| {
                    if base == 0 {
                        return Ok(0);
                    }
                    index
                        .checked_mul(2)
                        .and_then(|step| u32::from(base).checked_add(step))
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or(LayoutError::PortOverflow { index, base })
                };
                Ok((
                    SocketAddr::new(addr, port(http)?),
                    SocketAddr::new(addr, port(tls)?),
                ))
            }
            Self::Addresses { base, http, tls } => {
                let addr =
                    nth_address(base, index).ok_or(LayoutError::AddressOverflow { index, base })?;
                Ok((SocketAddr::new(addr, http), SocketAddr::new(addr, tls)))
            }
        }
    }
}

/// `base + index` as an address (IPv4 or IPv6 arithmetic), `None` past the end of the space.
pub fn nth_address(base: IpAddr, index: u32) -> Option<IpAddr> {
    match base {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_add(index)
            .map(|a| IpAddr::from(a.to_be_bytes())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(u128::from(index))
            .map(|a| IpAddr::from(a.to_be_bytes())),
    }
}

/// Device `index`'s UUID: the base UUID with `index` added to its last 48 bits (the node field),
/// wrapping within them; index 0 is the base itself.
pub fn nth_uuid(base: DeviceUuid, index: u32) -> DeviceUuid {
    let mut bytes = base.canonical();
    let mut node = [0_u8; 8];
    if let (Some(dst), Some(src)) = (node.get_mut(2..), bytes.get(10..)) {
        dst.copy_from_slice(src);
    }
    let sum = u64::from_be_bytes(node).wrapping_add(u64::from(index)) & 0x0000_FFFF_FFFF_FFFF;
    if let (Some(dst), Some(src)) = (bytes.get_mut(10..), sum.to_be_bytes().get(2..)) {
        dst.copy_from_slice(src);
    }
    DeviceUuid::from_canonical(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_layout_steps_by_two_and_keeps_zero() -> Result<(), Box<dyn std::error::Error>> {
        let addr: IpAddr = "127.0.0.1".parse()?;
        let fixed = Layout::Ports {
            addr,
            http: 20000,
            tls: 20001,
        };
        assert_eq!(
            fixed.endpoints(0)?,
            ("127.0.0.1:20000".parse()?, "127.0.0.1:20001".parse()?)
        );
        assert_eq!(
            fixed.endpoints(3)?,
            ("127.0.0.1:20006".parse()?, "127.0.0.1:20007".parse()?)
        );
        assert_eq!(
            fixed.endpoints(30_000),
            Err(LayoutError::PortOverflow {
                index: 30_000,
                base: 20000
            })
        );
        let any = Layout::Ports {
            addr,
            http: 0,
            tls: 0,
        };
        assert_eq!(
            any.endpoints(9_999)?,
            ("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)
        );
        Ok(())
    }

    #[test]
    fn address_layout_counts_up_through_octets() -> Result<(), Box<dyn std::error::Error>> {
        let base: IpAddr = "127.0.0.2".parse()?;
        let layout = Layout::Addresses {
            base,
            http: 16992,
            tls: 16993,
        };
        assert_eq!(layout.endpoints(0)?.1, "127.0.0.2:16993".parse()?);
        assert_eq!(layout.endpoints(300)?.0, "127.0.1.46:16992".parse()?);
        assert_eq!(nth_address("::1".parse()?, 2), Some("::3".parse()?));
        assert_eq!(nth_address("255.255.255.255".parse()?, 1), None);
        Ok(())
    }

    #[test]
    fn uuids_differ_per_index_and_index_zero_is_the_base() -> Result<(), Box<dyn std::error::Error>>
    {
        let base = DeviceUuid::parse("939b524b-13d4-1d18-e487-1c697a6b7a2b")?;
        assert_eq!(nth_uuid(base, 0), base);
        assert_eq!(
            nth_uuid(base, 1).to_string(),
            "939b524b-13d4-1d18-e487-1c697a6b7a2c"
        );
        let wrap = DeviceUuid::parse("00000000-0000-0000-0000-ffffffffffff")?;
        assert_eq!(
            nth_uuid(wrap, 1).to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        let all: std::collections::HashSet<_> = (0..10_000).map(|i| nth_uuid(base, i)).collect();
        assert_eq!(all.len(), 10_000);
        Ok(())
    }
}
