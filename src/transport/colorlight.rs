//! The edge agent's outputs (`bangtin controller --output …`), among them
//! a Colorlight 5A-75 receiving card cabled to a local network interface.
//!
//! The card takes raw Ethernet frames ([`crate::colorlight`]). They are
//! written to an `AF_PACKET` socket bound to the interface through
//! `pnet_datalink`, whose safe API (`channel`, `send_to`) keeps this crate
//! free of `unsafe` code: `socket2` can open an `AF_PACKET` socket but
//! building the `sockaddr_ll` to bind it needs `unsafe`
//! (`SockAddr::new`), and so does `nix`'s link-layer address. The socket
//! needs root or `CAP_NET_RAW`.
//!
//! A thread owns the socket. It shows the newest picture it was given and
//! repeats it every [`REPEAT`], so a card that was powered off or
//! re-cabled shows the sign's frame again within a second.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use image::RgbImage;

use crate::colorlight::{self, Macs, DISPLAY_DELAY_MS};
use crate::domain::Invalid;

/// How often the frame on the glass is sent again.
pub const REPEAT: Duration = Duration::from_secs(1);

/// Where the agent puts what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Half-block drawing on the terminal.
    Terminal,
    /// A PNG per shown frame in this directory.
    Png(PathBuf),
    /// A Colorlight 5A-75 on this network interface.
    Colorlight(String),
}

impl FromStr for Output {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Output, Invalid> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        match (kind, arg) {
            ("terminal", "") => Ok(Output::Terminal),
            ("png", dir) if !dir.is_empty() => Ok(Output::Png(dir.into())),
            ("colorlight", iface)
                if !iface.is_empty() && iface.len() < 16 && !iface.contains(['/', ' ', '\0']) =>
            {
                Ok(Output::Colorlight(iface.into()))
            }
            _ => Err(Invalid::new(crate::i18n::Reason::UnknownOutput {
                shown: s.chars().take(80).collect(),
            })),
        }
    }
}

/// A picture for the card and its brightness (0–255).
type Shot = (RgbImage, u8);

/// The card's sender: hand it pictures, a thread writes them.
pub struct Card {
    tx: mpsc::Sender<Shot>,
}

impl Card {
    /// Opens the interface (fails with a sentence when it is missing or
    /// the process may not send raw frames).
    pub fn open(iface: &str) -> Result<Card, String> {
        let found = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == iface)
            .ok_or_else(|| {
                format!("there is no network interface {iface:?} on this box: give the one cabled to the Colorlight card (see `ip link`)")
            })?;
        let config = pnet_datalink::Config {
            write_timeout: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        let mut sender = match pnet_datalink::channel(&found, config) {
            Ok(pnet_datalink::Channel::Ethernet(tx, _rx)) => tx,
            Ok(_) => return Err(format!("{iface} is not an Ethernet interface")),
            Err(e) => {
                return Err(format!(
                    "cannot send raw Ethernet frames on {iface}: {e} (run the agent as root or give it CAP_NET_RAW)"
                ))
            }
        };
        let (tx, rx) = mpsc::channel::<Shot>();
        let name = iface.to_string();
        std::thread::Builder::new()
            .name("colorlight".into())
            .spawn(move || {
                let mut current: Option<Shot> = None;
                let mut warned = false;
                loop {
                    match rx.recv_timeout(REPEAT) {
                        Ok(mut shot) => {
                            // Only the newest picture matters.
                            while let Ok(newer) = rx.try_recv() {
                                shot = newer;
                            }
                            current = Some(shot);
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    let Some((img, brightness)) = &current else {
                        continue;
                    };
                    match write(sender.as_mut(), img, *brightness) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            warned = true;
                            tracing::warn!(
                                "Colorlight card on {name}: {e}; sending again each second"
                            );
                        }
                        Err(_) => {}
                    }
                }
            })
            .map_err(|e| format!("cannot start the Colorlight thread: {e}"))?;
        Ok(Card { tx })
    }

    /// Shows `img` (the panel's pixels) at `brightness`.
    pub fn show(&self, img: &RgbImage, brightness: u8) {
        let _ = self.tx.send((img.clone(), brightness));
    }
}

/// One picture: every row, then (after the card's delay) the display
/// frame that latches them.
fn write(
    tx: &mut dyn pnet_datalink::DataLinkSender,
    img: &RgbImage,
    brightness: u8,
) -> Result<(), String> {
    let (w, h) = img.dimensions();
    let frames = colorlight::encode(
        img.as_raw(),
        w as u16,
        h as u16,
        brightness,
        Macs::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut send = |f: &[u8]| match tx.send_to(f, None) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(format!("sending a frame failed: {e}")),
        None => Err("the socket's buffer is too small".to_string()),
    };
    for row in &frames.rows {
        send(row)?;
    }
    std::thread::sleep(Duration::from_millis(DISPLAY_DELAY_MS));
    send(&frames.display)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse() {
        assert_eq!("terminal".parse(), Ok(Output::Terminal));
        assert_eq!("png:/tmp/x".parse(), Ok(Output::Png("/tmp/x".into())));
        assert_eq!(
            "colorlight:eth1".parse(),
            Ok(Output::Colorlight("eth1".into()))
        );
        for bad in ["", "png", "png:", "colorlight:", "colorlight:a/b", "hdmi:0"] {
            assert!(bad.parse::<Output>().is_err(), "{bad}");
        }
        assert!(Card::open("no-such-if0").is_err());
    }
}
