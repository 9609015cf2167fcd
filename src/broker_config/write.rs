//! The edge of `bangtin broker-config`: reads the province file, keeps
//! every user's password in `OUT/secrets.json` (mode 600; reused on each
//! run, so adding a panel and running it again changes nobody else's
//! password), draws salts, and writes the files [`super::render`] makes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;

use super::{render, Plan, SALT_LEN};
use crate::domain::Panel;

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Each broker's name (`province` or a district group) and how many
    /// panels connect to it.
    pub brokers: Vec<(String, usize)>,
    /// Users given a password on this run (the others kept theirs).
    pub new_users: usize,
    /// Every file written.
    pub files: Vec<PathBuf>,
}

/// The passwords file under the output directory.
pub fn secrets_path(out: &Path) -> PathBuf {
    out.join("secrets.json")
}

/// Reads the province file at `plan`, places `panels`, and writes every
/// broker's files under `out`.
pub fn run<'a>(
    plan: &Path,
    panels: impl IntoIterator<Item = &'a Panel>,
    out: &Path,
) -> anyhow::Result<Summary> {
    let text = std::fs::read_to_string(plan)
        .with_context(|| format!("cannot read the province file {}", plan.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a province file", plan.display()))?;
    plan.check()?;
    let layout = plan.assign(panels)?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let out = std::path::absolute(out)?;
    let out_text = out
        .to_str()
        .context("the output directory's path must be UTF-8")?
        .to_string();

    let secrets = secrets_path(&out);
    let mut passwords: BTreeMap<String, String> = match std::fs::read(&secrets) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a passwords file", secrets.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", secrets.display())),
    };
    let users = plan.users(&layout);
    passwords.retain(|u, _| users.binary_search(u).is_ok());
    let mut new_users = 0;
    for u in &users {
        passwords.entry(u.clone()).or_insert_with(|| {
            new_users += 1;
            crate::store::secret_file::new_secret()
        });
    }
    let mut salt = || {
        let mut s = [0u8; SALT_LEN];
        rand::rngs::OsRng.fill_bytes(&mut s);
        s
    };
    let files = render(&plan, &layout, &out_text, &passwords, &mut salt)?;

    let mut written = vec![secrets.clone()];
    crate::fsio::write_secret(&secrets, &serde_json::to_vec_pretty(&passwords)?)
        .with_context(|| format!("cannot write {}", secrets.display()))?;
    let mut brokers = vec![("province".to_string(), layout.province.len())];
    brokers.extend(
        plan.districts
            .iter()
            .zip(&layout.districts)
            .map(|(d, p)| (d.group.to_string(), p.len())),
    );
    let places = std::iter::once(&plan.province.config_dir)
        .chain(plan.districts.iter().map(|d| &d.place.config_dir))
        .zip(
            std::iter::once(&plan.province.data_dir)
                .chain(plan.districts.iter().map(|d| &d.place.data_dir)),
        );
    for ((name, _), (config_dir, data_dir)) in brokers.iter().zip(places) {
        // Mosquitto will not create its persistence directory: make it
        // when it lies under the output directory.
        if config_dir.is_none() && data_dir.is_none() {
            let data = out.join(name).join("data");
            std::fs::create_dir_all(&data)
                .with_context(|| format!("cannot create {}", data.display()))?;
        }
    }
    for f in files {
        let path = out.join(&f.path);
        let write = if f.secret {
            crate::fsio::write_secret
        } else {
            crate::fsio::write_atomic
        };
        write(&path, f.text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(Summary {
        brokers,
        new_users,
        files: written,
    })
}
