//! Certificates for TLS tests: a CA made for the test, another CA that signed nothing of the
//! server's, and a server certificate for `localhost` signed by the first (rcgen).

use crate::procs::BoxError;

/// The PEM texts of one test's certificates.
pub struct Certificates {
    /// The CA the server's certificate is signed by.
    pub ca_pem: String,
    /// A CA that signed nothing of the server's.
    pub other_ca_pem: String,
    /// The server's certificate, made out to `localhost` only.
    pub server_pem: String,
    /// Its private key (PKCS#8).
    pub server_key_pem: String,
}

/// Makes a fresh set (new keys every call).
pub fn certificates() -> Result<Certificates, BoxError> {
    let ca = |name: &str| -> Result<rcgen::CertifiedIssuer<'static, rcgen::KeyPair>, BoxError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        Ok(rcgen::CertifiedIssuer::self_signed(
            params,
            rcgen::KeyPair::generate()?,
        )?)
    };
    let issuer = ca("Outpost test CA")?;
    let other = ca("Outpost other CA")?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate()?;
    let server = params.signed_by(&key, &*issuer)?;
    Ok(Certificates {
        ca_pem: issuer.pem(),
        other_ca_pem: other.pem(),
        server_pem: server.pem(),
        server_key_pem: key.serialize_pem(),
    })
}
