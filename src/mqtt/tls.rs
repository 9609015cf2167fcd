//! rustls client configuration for `mqtts://`, with the `ring` provider
//! passed explicitly (no process-wide default provider is installed).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::{MqttError, TlsFiles};

fn read(path: &Path, what: &str) -> Result<Vec<u8>, MqttError> {
    std::fs::read(path).map_err(|e| {
        MqttError::Tls(format!(
            "cannot read the TLS {what} file {}: {e}",
            path.display()
        ))
    })
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let pem = read(path, what)?;
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| MqttError::Tls(format!("{} is not a PEM file: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(MqttError::Tls(format!(
            "the TLS {what} file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Builds the client configuration: the given CA (or the system's roots),
/// and a client certificate when both `cert` and `key` are given.
pub(crate) fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, MqttError> {
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            let (added, _) = roots.add_parsable_certificates(certs(ca, "CA")?);
            if added == 0 {
                return Err(MqttError::Tls(format!(
                    "the TLS CA file {} holds no usable certificate",
                    ca.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(MqttError::Tls(
                    "no system CA certificates found: give the broker's CA with --mqtt-ca FILE"
                        .into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Tls(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert, "client certificate")?;
            let pem = read(key, "client key")?;
            let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &pem[..])
                .map_err(|e| MqttError::Tls(format!("{} is not a PEM file: {e}", key.display())))?
                .ok_or_else(|| {
                    MqttError::Tls(format!(
                        "the TLS client key file {} holds no private key",
                        key.display()
                    ))
                })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                MqttError::Tls(format!("the client certificate and key do not fit: {e}"))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(MqttError::Tls(
                "a TLS client certificate needs both the certificate and the key file".into(),
            ))
        }
    };
    Ok(Arc::new(config))
}
