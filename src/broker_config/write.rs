//! The edge of `bangtin broker-config`: reads the province file, keeps
//! every user's password in `OUT/secrets.json` (mode 600; reused on each
//! run, so adding a panel and running it again changes nobody else's
//! password), draws salts, and writes the files [`super::render`] makes.
//! For a TLS province it keeps the province's CA in `OUT/ca/` (made on
//! the first run, reused after: clients keep trusting it) and issues each
//! broker a fresh certificate on every run (valid [`CERT_DAYS`]: run it
//! again before they end).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;

use chrono::{Datelike, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::{render, Certificates, Plan, CA_FILE, SALT_LEN};
use crate::domain::Panel;

/// How long a broker's certificate is valid, days.
pub const CERT_DAYS: u64 = 730;
/// How long the province's CA is valid, days.
const CA_DAYS: u64 = 20 * 365;
/// The CA's name (the same on every run: the certificates a reused CA
/// key issues name this issuer).
const CA_NAME: &str = "bangtin MQTT brokers CA";

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
    /// For a TLS province: the last day its brokers' certificates are valid.
    pub certificates_until: Option<NaiveDate>,
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
    let (certs, certificates_until) = if plan.tls {
        let (c, until) = certificates(&plan, &out)?;
        (Some(c), Some(until))
    } else {
        (None, None)
    };
    let files = render(
        &plan,
        &layout,
        &out_text,
        &passwords,
        certs.as_ref(),
        &mut salt,
    )?;

    let mut written = vec![secrets.clone()];
    crate::fsio::write_secret(&secrets, &serde_json::to_vec_pretty(&passwords)?)
        .with_context(|| format!("cannot write {}", secrets.display()))?;
    remove_stale_env_files(&plan, &out)?;
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
        certificates_until,
    })
}

/// Removes the environment files of servers the province file no longer
/// names: they would hold passwords the broker no longer takes.
fn remove_stale_env_files(plan: &Plan, out: &Path) -> anyhow::Result<()> {
    for n in plan.servers + 1..=super::MAX_SERVERS {
        let stale = out.join(super::env_file_name(n));
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", stale.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Valid from the start of `from` to the start of `until`, UTC.
fn valid(p: &mut CertificateParams, from: NaiveDate, until: NaiveDate) {
    let day = |d: NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    p.not_before = day(from);
    p.not_after = day(until);
}

/// The CA's parameters: its name, its use, and (for a new CA) its
/// validity from today.
fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "bangtin");
    dn.push(DnType::CommonName, CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let today = Utc::now().date_naive();
    valid(
        &mut p,
        today - chrono::Days::new(1),
        today + chrono::Days::new(CA_DAYS),
    );
    p
}

/// The province's CA from `OUT/ca/` (its key and certificate), made there
/// on the first run; then a certificate for each broker naming its host,
/// in [`render`]'s order. Returns them with the last day they are valid.
fn certificates(plan: &Plan, out: &Path) -> anyhow::Result<(Certificates, NaiveDate)> {
    let ca_cert = out.join(CA_FILE);
    let ca_key = ca_cert.with_file_name("ca.key");
    let (key, ca_pem) = match std::fs::read_to_string(&ca_key) {
        Ok(pem) => {
            let key = KeyPair::from_pem(&pem)
                .with_context(|| format!("{} is not a private key", ca_key.display()))?;
            let cert = std::fs::read_to_string(&ca_cert)
                .with_context(|| format!("{} is missing beside its key", ca_cert.display()))?;
            (key, cert)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = KeyPair::generate()?;
            let cert = ca_params().self_signed(&key)?.pem();
            std::fs::create_dir_all(out.join("ca"))?;
            crate::fsio::write_secret(&ca_key, key.serialize_pem().as_bytes())
                .with_context(|| format!("cannot write {}", ca_key.display()))?;
            crate::fsio::write_atomic(&ca_cert, cert.as_bytes())
                .with_context(|| format!("cannot write {}", ca_cert.display()))?;
            (key, cert)
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", ca_key.display())),
    };
    let issuer = Issuer::new(ca_params(), key);
    let today = Utc::now().date_naive();
    let until = today + chrono::Days::new(CERT_DAYS);
    let hosts =
        std::iter::once(&plan.province.host).chain(plan.districts.iter().map(|d| &d.place.host));
    let mut brokers = Vec::new();
    for host in hosts {
        let mut p = CertificateParams::new(vec![host.clone()])
            .with_context(|| format!("{host} cannot be named in a certificate"))?;
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, host.as_str());
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        valid(&mut p, today - chrono::Days::new(1), until);
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &issuer)?;
        brokers.push((cert.pem(), key.serialize_pem()));
    }
    Ok((
        Certificates {
            ca: ca_pem,
            brokers,
        },
        until,
    ))
}
