//! The render cache: every page a panel may show, rendered once per
//! (message version, profile) and shared by every panel of that profile,
//! by the player and by the preview endpoints; and the prepared-picture
//! cache under it (decoded, linear-light images within a memory budget).
//! Both are bounded by bytes, shares of the server's memory budget
//! ([`crate::memory::Budget`]), least recently used dropped first: no
//! query string (sizes, colours) can grow them without bound.
//!
//! Knows the store only to read an asset's bytes; knows nothing of
//! schedules, seqs or delivery.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::domain::{Alert, Color, Id, Message, MessageBody, PixelFormat, Profile, Style};
use crate::frame;
use crate::memory::{Budget, ByteLru, Weigh};
use crate::render::{self, Content, Picture, Renderer};
use crate::store::{Snapshot, Store};

/// How alerts look on colour panels: yellow on deep red.
pub const ALERT_STYLE: Style = Style {
    color: Some(Color([0xff, 0xe0, 0x00])),
    background: Some(Color([0xb0, 0x00, 0x00])),
    align: None,
    fit: None,
    caption: None,
};

/// One rendered page, ready to stamp into frames.
pub struct PageOut {
    /// The page as drawn (its pixels, for previews and `frame.png`).
    pub page: render::Page,
    /// The page packed in the panel's pixel format: a frame's data.
    pub data: Bytes,
    /// CRC-32 of `data` (the frame header's CRC).
    pub crc: u32,
    /// Words of text on the page (for the reading-time warning).
    pub words: usize,
}

/// All pages of one message on one profile.
pub struct Rendition {
    /// The pages, in order; at least one (a blank message is one dark page).
    pub pages: Vec<PageOut>,
}

impl Weigh for Rendition {
    fn weight(&self) -> usize {
        self.pages
            .iter()
            .map(|p| p.data.len() + p.page.bytes())
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RenderKey {
    Message {
        id: Id,
        version: u64,
        profile: Profile,
    },
    Alert {
        id: Id,
        profile: Profile,
    },
    Blank {
        profile: Profile,
    },
}

/// The render cache, shared by the player and the preview endpoints.
pub struct Renditions {
    renderer: Arc<Renderer>,
    cache: Mutex<ByteLru<RenderKey, Arc<Rendition>>>,
    images: Mutex<Pictures>,
    /// Renders made (cache misses), for `/metrics`.
    pub renders: AtomicU64,
}

/// Why a message cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenditionError {
    /// The message names an image the store does not have (its id).
    #[error("image {0} is missing from the store")]
    MissingImage(String),
    /// The image's file does not decode as a picture.
    #[error("image {id} cannot be used: {reason}")]
    BadImage {
        /// The image's asset id.
        id: String,
        /// Why, in words.
        reason: String,
    },
}

/// Prepared pictures by asset id, least recently used dropped first once
/// they hold more than [`PICTURE_CACHE_BYTES`] (a dropped one is decoded
/// again when needed; renders are cached separately).
struct Pictures {
    map: HashMap<String, (Arc<Picture>, u64)>,
    bytes: usize,
    tick: u64,
    budget: usize,
}

impl Default for Pictures {
    fn default() -> Self {
        Pictures {
            map: HashMap::new(),
            bytes: 0,
            tick: 0,
            budget: PICTURE_CACHE_BYTES,
        }
    }
}

/// Memory budget of the prepared-picture cache.
pub const PICTURE_CACHE_BYTES: usize = 256 * 1024 * 1024;

impl Pictures {
    fn get(&mut self, id: &str) -> Option<Arc<Picture>> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(id).map(|(p, used)| {
            *used = tick;
            p.clone()
        })
    }

    fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.map.retain(|id, _| keep(id));
        self.bytes = self.map.values().map(|(p, _)| p.bytes()).sum();
    }

    fn insert(&mut self, id: &str, pic: Arc<Picture>) {
        self.tick += 1;
        self.bytes += pic.bytes();
        if let Some((old, _)) = self.map.insert(id.to_string(), (pic, self.tick)) {
            self.bytes -= old.bytes();
        }
        while self.bytes > self.budget && self.map.len() > 1 {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some((p, _)) = self.map.remove(&oldest) {
                self.bytes -= p.bytes();
            }
        }
    }
}

impl Renditions {
    /// With the shares of the default memory budget.
    pub fn new(renderer: Arc<Renderer>) -> Renditions {
        Renditions::with_budget(renderer, &Budget::default())
    }

    /// Renders and pictures kept within their shares of `budget`.
    pub fn with_budget(renderer: Arc<Renderer>, budget: &Budget) -> Renditions {
        Renditions {
            renderer,
            cache: Mutex::new(ByteLru::new(budget.renders())),
            images: Mutex::new(Pictures {
                budget: budget.pictures(),
                ..Pictures::default()
            }),
            renders: Default::default(),
        }
    }

    /// The renderer behind the cache (fonts and faces loaded once).
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// Whether the prepared picture of asset `id` is cached (using it
    /// then costs no decoding).
    pub fn has_picture(&self, id: &str) -> bool {
        self.images
            .lock()
            .expect("image cache")
            .map
            .contains_key(id)
    }

    /// Bytes the cached renders hold.
    pub fn bytes(&self) -> usize {
        self.cache.lock().expect("render cache").bytes()
    }

    fn build(&self, content: &Content<'_>, profile: &Profile) -> Rendition {
        self.renders.fetch_add(1, Ordering::Relaxed);
        let r = self.renderer.render(content, profile);
        Rendition {
            pages: r
                .pages
                .into_iter()
                .map(|page| {
                    let data = Bytes::from(page.data().into_owned());
                    PageOut {
                        crc: frame::crc32(&data),
                        data,
                        words: page.words(),
                        page,
                    }
                })
                .collect(),
        }
    }

    fn cached(
        &self,
        key: RenderKey,
        make: impl FnOnce() -> Result<Rendition, RenditionError>,
    ) -> Result<Arc<Rendition>, RenditionError> {
        if let Some(r) = self.cache.lock().expect("render cache").get(&key).cloned() {
            return Ok(r);
        }
        let r = Arc::new(make()?);
        self.cache
            .lock()
            .expect("render cache")
            .insert(key, r.clone());
        Ok(r)
    }

    /// An asset image, decoded and prepared ([`Picture`]), cached.
    pub fn image(&self, store: &Store, id: &str) -> Result<Arc<Picture>, RenditionError> {
        if let Some(i) = self.images.lock().expect("image cache").get(id) {
            return Ok(i);
        }
        let (_, bytes) = store
            .read_asset(id)
            .map_err(|_| RenditionError::MissingImage(id.into()))?;
        let img = render::decode_image(&bytes).map_err(|e| RenditionError::BadImage {
            id: id.into(),
            reason: e.to_string(),
        })?;
        let pic = Arc::new(Picture::new(&img.image));
        self.images
            .lock()
            .expect("image cache")
            .insert(id, pic.clone());
        Ok(pic)
    }

    /// Renders a message body that need not be stored (live previews).
    pub fn render_body(
        &self,
        store: &Store,
        body: &MessageBody,
        profile: &Profile,
    ) -> Result<Rendition, RenditionError> {
        let img = match &body.image {
            Some(id) => Some(self.image(store, id)?),
            None => None,
        };
        Ok(self.build(
            &Content {
                text: body.text.as_deref().unwrap_or(""),
                image: img.as_deref(),
                style: &body.style,
            },
            profile,
        ))
    }

    /// The pages of `msg`'s current version on `profile`, cached by (id, version, profile).
    pub fn message(
        &self,
        store: &Store,
        msg: &Message,
        profile: &Profile,
    ) -> Result<Arc<Rendition>, RenditionError> {
        let key = RenderKey::Message {
            id: msg.id.clone(),
            version: msg.version,
            profile: *profile,
        };
        self.cached(key, || self.render_body(store, &msg.body, profile))
    }

    /// The pages of `alert` in the alert style on `profile`, cached by (id, profile).
    pub fn alert(&self, alert: &Alert, profile: &Profile) -> Arc<Rendition> {
        let key = RenderKey::Alert {
            id: alert.id.clone(),
            profile: *profile,
        };
        self.cached(key, || {
            Ok(self.build(
                &Content {
                    text: &alert.body.text,
                    image: None,
                    style: &ALERT_STYLE,
                },
                profile,
            ))
        })
        .expect("alerts have no image")
    }

    /// One dark page for `profile` (what a panel with nothing to show is sent).
    pub fn blank(&self, profile: &Profile) -> Arc<Rendition> {
        self.cached(RenderKey::Blank { profile: *profile }, || {
            Ok(self.build(
                &Content {
                    text: "",
                    image: None,
                    style: &Style::default(),
                },
                profile,
            ))
        })
        .expect("blank has no image")
    }

    /// Drops renders of message versions that no longer exist.
    pub(super) fn sweep(&self, snap: &Snapshot) {
        self.cache
            .lock()
            .expect("render cache")
            .retain(|k, _| match k {
                RenderKey::Message { id, version, .. } => {
                    snap.messages.get(id).is_some_and(|m| m.version == *version)
                }
                RenderKey::Alert { id, .. } => snap.alerts.contains_key(id),
                RenderKey::Blank { .. } => true,
            });
        self.images
            .lock()
            .expect("image cache")
            .retain(|id| snap.assets.contains_key(id));
    }

    /// Renders cached.
    pub fn len(&self) -> usize {
        self.cache.lock().expect("render cache").len()
    }

    /// Whether no render is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The profile of a preview that names no panel (API previews).
pub fn preview_profile(
    width: u16,
    height: u16,
    format: PixelFormat,
    color: Option<Color>,
) -> Result<Profile, crate::domain::Invalid> {
    let mut p = Profile::new(width, height, format)?;
    if let Some(c) = color {
        p.color = c;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_cache_keeps_the_recently_used_within_its_budget() {
        let pic = |side: u32| {
            Arc::new(Picture::new(&image::RgbaImage::from_pixel(
                side,
                side,
                image::Rgba([9, 9, 9, 255]),
            )))
        };
        let one = pic(10).bytes(); // 10 × 10 × 3 channels × 4 bytes
        assert_eq!(one, 1200);
        let mut c = Pictures {
            budget: 3 * one,
            ..Pictures::default()
        };
        c.insert("a", pic(10));
        c.insert("b", pic(10));
        c.insert("c", pic(10));
        assert!(c.get("a").is_some(), "a is used again: b is now the oldest");
        c.insert("d", pic(10));
        assert!(c.get("b").is_none(), "least recently used dropped");
        assert!(c.get("a").is_some() && c.get("c").is_some() && c.get("d").is_some());
        assert_eq!(c.bytes, 3 * one);
        // One picture over the budget on its own is still kept (it is in use).
        c.insert("big", pic(40));
        assert!(c.get("big").is_some());
        assert_eq!(c.map.len(), 1);
        assert_eq!(c.bytes, pic(40).bytes());
        c.retain(|id| id != "big");
        assert_eq!((c.map.len(), c.bytes), (0, 0));
    }
}
