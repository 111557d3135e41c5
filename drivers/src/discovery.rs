//! Finding the devices plugged into a kiosk: serial ports and USB printers with their USB
//! vendor/product IDs and stable `/dev/serial/by-id` names.
//!
//! Read straight from sysfs rather than through libudev, so that the crate builds and runs on a
//! minimal image without `libudev-dev`: `/sys/class/tty/<name>/device` leads to the USB interface,
//! whose parent directory holds `idVendor`, `idProduct`, `manufacturer`, `product` and `serial`;
//! `/sys/class/usbmisc/lpN` does the same for USB printer class devices. The roots are
//! parameters so that the walk is testable on a fake tree.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What kind of port a device node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A USB CDC-ACM device (`ttyACM*`): scanners in "USB COM" mode, some terminals.
    UsbAcm,
    /// A USB-serial adapter (`ttyUSB*`: FTDI, Prolific, CH340…).
    UsbSerial,
    /// A USB printer class device (`/dev/usb/lp*`).
    UsbPrinter,
    /// An on-board UART (`ttyS*`), listed only on request: most are unconnected placeholders.
    OnBoard,
    /// Another tty with a hardware device behind it.
    Other,
}

/// USB descriptor strings and IDs of the device behind a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbInfo {
    /// `idVendor`.
    pub vendor_id: u16,
    /// `idProduct`.
    pub product_id: u16,
    /// `manufacturer` string, if the device has one.
    pub manufacturer: Option<String>,
    /// `product` string.
    pub product: Option<String>,
    /// `serial` string: what makes two identical scanners distinguishable.
    pub serial: Option<String>,
    /// Interface number (`bInterfaceNumber`), as in the `-ifNN` suffix of by-id names.
    pub interface: Option<String>,
}

/// A port found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// The device node, e.g. `/dev/ttyACM0`.
    pub device: PathBuf,
    /// Its kind.
    pub kind: PortKind,
    /// The USB device behind it, if any.
    pub usb: Option<UsbInfo>,
    /// Stable links to it under `/dev/serial/by-id` (use these in configuration).
    pub by_id: Vec<PathBuf>,
    /// Links under `/dev/serial/by-path` (tied to the physical USB socket).
    pub by_path: Vec<PathBuf>,
    /// The kernel driver bound to it (`cdc_acm`, `ftdi_sio`, `usblp`…).
    pub driver: Option<String>,
}

/// Lists the serial ports and USB printers of this machine (`/sys`, `/dev`). On-board UARTs are
/// left out unless `include_on_board`.
pub fn list_ports(include_on_board: bool) -> io::Result<Vec<PortInfo>> {
    list_ports_under(Path::new("/sys"), Path::new("/dev"), include_on_board)
}

/// [`list_ports`] with other roots for sysfs and `/dev` (a fake tree in tests).
pub fn list_ports_under(
    sys: &Path,
    dev: &Path,
    include_on_board: bool,
) -> io::Result<Vec<PortInfo>> {
    let by_id = links_in(&dev.join("serial/by-id"));
    let by_path = links_in(&dev.join("serial/by-path"));
    let mut ports = Vec::new();
    for (class, node_dir) in [("tty", dev.to_path_buf()), ("usbmisc", dev.join("usb"))] {
        let Ok(entries) = fs::read_dir(sys.join("class").join(class)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let device_link = entry.path().join("device");
            // Virtual terminals and pseudo-terminals have no device behind them.
            let Ok(device_dir) = fs::canonicalize(&device_link) else {
                continue;
            };
            let kind = match (class, name.as_str()) {
                ("usbmisc", n) if n.starts_with("lp") => PortKind::UsbPrinter,
                ("usbmisc", _) => continue,
                (_, n) if n.starts_with("ttyACM") => PortKind::UsbAcm,
                (_, n) if n.starts_with("ttyUSB") => PortKind::UsbSerial,
                (_, n) if n.starts_with("ttyS") => PortKind::OnBoard,
                _ => PortKind::Other,
            };
            if kind == PortKind::OnBoard && !include_on_board {
                continue;
            }
            let usb = usb_info(&device_dir);
            if kind == PortKind::Other && usb.is_none() {
                continue;
            }
            let links = |all: &[(PathBuf, String)]| {
                all.iter()
                    .filter(|(_, target)| *target == name)
                    .map(|(link, _)| link.clone())
                    .collect::<Vec<_>>()
            };
            ports.push(PortInfo {
                device: node_dir.join(&name),
                kind,
                usb,
                by_id: links(&by_id),
                by_path: links(&by_path),
                driver: fs::read_link(device_dir.join("driver"))
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())),
            });
        }
    }
    ports.sort_by(|a, b| a.device.cmp(&b.device));
    Ok(ports)
}

/// The symbolic links of a directory with the file name of their target.
fn links_in(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut links: Vec<_> = entries
        .flatten()
        .filter_map(|e| {
            let target = fs::read_link(e.path()).ok()?;
            let name = target.file_name()?.to_string_lossy().into_owned();
            Some((e.path(), name))
        })
        .collect();
    links.sort();
    links
}

/// Walks up from a tty's device directory to the USB interface and device.
fn usb_info(device_dir: &Path) -> Option<UsbInfo> {
    let mut interface = None;
    for dir in device_dir.ancestors().take(6) {
        if interface.is_none() {
            interface = read_trimmed(&dir.join("bInterfaceNumber"));
        }
        let (Some(vendor), Some(product)) = (
            read_hex(&dir.join("idVendor")),
            read_hex(&dir.join("idProduct")),
        ) else {
            continue;
        };
        return Some(UsbInfo {
            vendor_id: vendor,
            product_id: product,
            manufacturer: read_trimmed(&dir.join("manufacturer")),
            product: read_trimmed(&dir.join("product")),
            serial: read_trimmed(&dir.join("serial")),
            interface,
        });
    }
    None
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn read_hex(path: &Path) -> Option<u16> {
    u16::from_str_radix(&read_trimmed(path)?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    fn link(target: &str, at: &Path) {
        fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        symlink(target, at).expect("symlink");
    }

    /// A fake machine: a CDC-ACM scanner, an FTDI adapter, a USB printer, an on-board UART and a
    /// virtual console.
    #[test]
    fn walks_a_fake_sysfs_tree() {
        let root = std::env::temp_dir().join(format!("drivers-discovery-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let sys = root.join("sys");
        let dev = root.join("dev");
        let scanner = sys.join("devices/pci0/usb1/1-1");
        write(&scanner.join("idVendor"), "0c2e\n");
        write(&scanner.join("idProduct"), "0b61\n");
        write(
            &scanner.join("manufacturer"),
            "Honeywell Imaging & Mobility\n",
        );
        write(&scanner.join("product"), "1900\n");
        write(&scanner.join("serial"), "17113B4A9C\n");
        write(&scanner.join("1-1:1.0/bInterfaceNumber"), "00\n");
        link(
            "../../../devices/pci0/usb1/1-1/1-1:1.0",
            &sys.join("class/tty/ttyACM0/device"),
        );
        let ftdi = sys.join("devices/pci0/usb1/1-2");
        write(&ftdi.join("idVendor"), "0403\n");
        write(&ftdi.join("idProduct"), "6001\n");
        write(&ftdi.join("1-2:1.0/bInterfaceNumber"), "00\n");
        fs::create_dir_all(ftdi.join("1-2:1.0/ttyUSB0")).expect("mkdir");
        link(
            "../../../devices/pci0/usb1/1-2/1-2:1.0/ttyUSB0",
            &sys.join("class/tty/ttyUSB0/device"),
        );
        let printer = sys.join("devices/pci0/usb1/1-3");
        write(&printer.join("idVendor"), "04b8\n");
        write(&printer.join("idProduct"), "0202\n");
        write(&printer.join("product"), "TM-T20\n");
        write(&printer.join("1-3:1.0/bInterfaceNumber"), "00\n");
        link(
            "../../../devices/pci0/usb1/1-3/1-3:1.0",
            &sys.join("class/usbmisc/lp0/device"),
        );
        fs::create_dir_all(sys.join("devices/platform/serial8250")).expect("mkdir");
        link(
            "../../../devices/platform/serial8250",
            &sys.join("class/tty/ttyS0/device"),
        );
        fs::create_dir_all(sys.join("class/tty/tty0")).expect("mkdir");
        link(
            "../../ttyACM0",
            &dev.join("serial/by-id/usb-Honeywell_1900_17113B4A9C-if00"),
        );
        link(
            "../../ttyACM0",
            &dev.join("serial/by-path/pci-0000:00:14.0-usb-0:1:1.0"),
        );

        let ports = list_ports_under(&sys, &dev, false).expect("listed");
        let names: Vec<_> = ports.iter().map(|p| p.device.clone()).collect();
        assert_eq!(
            names,
            [
                dev.join("ttyACM0"),
                dev.join("ttyUSB0"),
                dev.join("usb/lp0")
            ]
        );
        let acm = &ports[0];
        assert_eq!(acm.kind, PortKind::UsbAcm);
        let usb = acm.usb.as_ref().expect("usb");
        assert_eq!((usb.vendor_id, usb.product_id), (0x0c2e, 0x0b61));
        assert_eq!(usb.product.as_deref(), Some("1900"));
        assert_eq!(usb.serial.as_deref(), Some("17113B4A9C"));
        assert_eq!(usb.interface.as_deref(), Some("00"));
        assert_eq!(
            acm.by_id,
            [dev.join("serial/by-id/usb-Honeywell_1900_17113B4A9C-if00")]
        );
        assert_eq!(acm.by_path.len(), 1);
        let ftdi = &ports[1];
        assert_eq!(ftdi.kind, PortKind::UsbSerial);
        assert_eq!(ftdi.usb.as_ref().map(|u| u.vendor_id), Some(0x0403));
        assert!(ftdi.by_id.is_empty());
        assert_eq!(ports[2].kind, PortKind::UsbPrinter);
        assert_eq!(
            ports[2].usb.as_ref().and_then(|u| u.product.as_deref()),
            Some("TM-T20")
        );

        let all = list_ports_under(&sys, &dev, true).expect("listed");
        assert!(
            all.iter()
                .any(|p| p.kind == PortKind::OnBoard && p.device == dev.join("ttyS0"))
        );
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_missing_tree_lists_nothing() {
        let ports = list_ports_under(
            Path::new("/nonexistent/sys"),
            Path::new("/nonexistent/dev"),
            true,
        )
        .expect("no error");
        assert!(ports.is_empty());
    }
}
