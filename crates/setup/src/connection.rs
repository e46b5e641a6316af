//! Whether one instance can open a mirroring connection to another's endpoint (reference §3
//! and §7, prerequisites 2 to 4), and if not, which rule failed and whether the initiator
//! notices at once (a hard error) or only by TIMEOUT (a soft error: the acceptor drops the
//! connection silently).
//!
//! The checks run in this order; the first that fails is the answer:
//! 1. the initiator's own endpoint exists, is STARTED and its role allows the initiator's part;
//! 2. the address's host is an instance (hard), which the initiator can reach now (as the
//!    simulator says, for statements);
//! 3. an endpoint listens on that port (hard), STARTED (hard), whose role allows the acceptor's
//!    part (hard);
//! 4. authentication agrees (soft): both WINDOWS with compatible protocols and domain service
//!    accounts, or both CERTIFICATE with each side holding the other's certificate;
//! 5. encryption agrees (soft): not DISABLED against REQUIRED, and a shared algorithm, the
//!    acceptor's preference first;
//! 6. the acceptor authorizes the initiator (soft): the same service account, or a login for it
//!    (Windows) or mapped to its certificate, granted CONNECT on the endpoint.

use std::collections::BTreeMap;
use std::fmt;

use mirror_protocol::SqlError;

use crate::catalog::{key, Endpoint, InstanceCatalog, LoginSource};
use crate::errors::sql;
use crate::estate::Estate;
use crate::statement::{
    Algorithm, Authentication, EncryptionMode, EndpointState, ServerAddress, SessionPart,
    WindowsProtocol,
};

/// How a failed connection shows (reference §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// Noticed at once: unknown host or port, endpoint missing, not STARTED or of the wrong
    /// role, a crashed process on a live host.
    Hard,
    /// Noticed only by TIMEOUT: the acceptor dropped the connection silently (authentication,
    /// encryption, login, permission), or the host is silent.
    Soft,
}

/// The rule a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectionRule {
    /// The initiating instance is not in the estate.
    UnknownInstance,
    /// The initiator has no mirroring endpoint of its own.
    NoLocalEndpoint,
    /// The initiator's own endpoint is not STARTED.
    LocalEndpointNotStarted,
    /// The initiator's own endpoint's role does not allow its part.
    LocalEndpointWrongRole,
    /// No instance runs on the address's host.
    UnknownHost,
    /// The simulator says the peer cannot be reached now.
    Unreachable,
    /// The peer has no mirroring endpoint.
    NoEndpoint,
    /// The peer's endpoint listens on another port.
    WrongPort,
    /// The peer's endpoint is STOPPED.
    EndpointStopped,
    /// The peer's endpoint is DISABLED.
    EndpointDisabled,
    /// The peer's endpoint's role does not allow the peer's part.
    WrongRole,
    /// One endpoint uses WINDOWS, the other CERTIFICATE.
    AuthenticationMismatch,
    /// NTLM against KERBEROS.
    WindowsProtocolMismatch,
    /// A built-in or non-domain service account with WINDOWS authentication.
    NotADomainAccount,
    /// An endpoint's certificate is missing or has no private key.
    CertificateUnusable,
    /// A side does not hold the other side's certificate.
    CertificateNotTrusted,
    /// DISABLED against REQUIRED.
    EncryptionMismatch,
    /// The acceptor has no login for the initiator.
    NoLogin,
    /// The initiator's login is not granted CONNECT on the acceptor's endpoint.
    NoConnectPermission,
}

/// A mirroring connection that cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionFailure {
    /// Hard or soft.
    pub kind: FailureKind,
    /// The rule that failed.
    pub rule: ConnectionRule,
    /// The initiating instance.
    pub from: String,
    /// The address it connected to.
    pub to: ServerAddress,
    /// What is wrong and what to do, for a DBA.
    pub detail: String,
}

impl ConnectionFailure {
    /// SQL Server's error 1418 for it, with the rule that failed in brackets (SQL Server never
    /// says; the simulator can).
    pub fn to_sql_error(&self) -> SqlError {
        sql::address_unreachable(
            &self.to,
            &format!("{} -> {}: {}", self.from, self.to, self.detail),
        )
    }
}

impl fmt::Display for ConnectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FailureKind::Hard => "hard",
            FailureKind::Soft => "soft",
        };
        write!(
            f,
            "{} cannot connect to {} ({kind} error): {}",
            self.from, self.to, self.detail
        )
    }
}

/// The security a connection would use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// How the two sides authenticate.
    pub authentication: NegotiatedAuthentication,
    /// The encryption algorithm, or `None` for unencrypted traffic.
    pub encryption: Option<Algorithm>,
}

/// The authentication a connection would use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiatedAuthentication {
    /// Windows, with this protocol (NEGOTIATE when both sides leave it open).
    Windows(WindowsProtocol),
    /// Certificates.
    Certificate,
}

type Refusal = (FailureKind, ConnectionRule, String);

fn hard(rule: ConnectionRule, detail: String) -> Refusal {
    (FailureKind::Hard, rule, detail)
}

fn soft(rule: ConnectionRule, detail: String) -> Refusal {
    (FailureKind::Soft, rule, detail)
}

impl Estate {
    /// Judges whether instance `from`, playing `from_part`, can open a mirroring connection to
    /// the endpoint at `to`, whose instance plays `to_part`: authenticated both ways, encrypted
    /// as both endpoints allow, and authorized by the acceptor. A session needs it in both
    /// directions (each partner connects to the other). The simulator calls it whenever the
    /// protocol (re)connects; the statements call it with the live reachability of their
    /// [`crate::StatementContext`].
    pub fn judge_connection(
        &self,
        from: &str,
        from_part: SessionPart,
        to: &ServerAddress,
        to_part: SessionPart,
    ) -> Result<Negotiated, ConnectionFailure> {
        self.judge_connection_now(from, from_part, to, to_part, &BTreeMap::new())
    }

    pub(crate) fn judge_connection_now(
        &self,
        from: &str,
        from_part: SessionPart,
        to: &ServerAddress,
        to_part: SessionPart,
        unreachable: &BTreeMap<String, FailureKind>,
    ) -> Result<Negotiated, ConnectionFailure> {
        self.judge(from, from_part, to, to_part, unreachable)
            .map_err(|(kind, rule, detail)| ConnectionFailure {
                kind,
                rule,
                from: from.to_string(),
                to: to.clone(),
                detail,
            })
    }

    fn judge(
        &self,
        from: &str,
        from_part: SessionPart,
        to: &ServerAddress,
        to_part: SessionPart,
        unreachable: &BTreeMap<String, FailureKind>,
    ) -> Result<Negotiated, Refusal> {
        let initiator = self.instance(from).ok_or_else(|| {
            hard(
                ConnectionRule::UnknownInstance,
                format!("no instance named {from}"),
            )
        })?;
        let initiator_endpoint = own_endpoint(initiator, from_part)?;
        let acceptor = self.instance_on_host(&to.host).ok_or_else(|| {
            hard(
                ConnectionRule::UnknownHost,
                format!("no SQL Server instance runs on host {}", to.host),
            )
        })?;
        if let Some(&kind) = unreachable
            .get(&acceptor.name)
            .or_else(|| unreachable.get(from))
        {
            return Err((
                kind,
                ConnectionRule::Unreachable,
                format!("{} cannot be reached now", acceptor.name),
            ));
        }
        let acceptor_endpoint = listening_endpoint(acceptor, to, to_part)?;
        let authentication =
            authenticate(initiator, initiator_endpoint, acceptor, acceptor_endpoint)?;
        let encryption =
            negotiate_encryption(initiator, initiator_endpoint, acceptor, acceptor_endpoint)?;
        authorize(initiator, initiator_endpoint, acceptor, acceptor_endpoint)?;
        Ok(Negotiated {
            authentication,
            encryption,
        })
    }
}

/// The initiator's own endpoint: mirroring connections leave through it.
fn own_endpoint(initiator: &InstanceCatalog, part: SessionPart) -> Result<&Endpoint, Refusal> {
    let name = &initiator.name;
    let endpoint = initiator.endpoint.as_ref().ok_or_else(|| {
        hard(
            ConnectionRule::NoLocalEndpoint,
            format!(
                "{name} has no database mirroring endpoint of its own: CREATE ENDPOINT on {name}"
            ),
        )
    })?;
    if endpoint.state != EndpointState::Started {
        return Err(hard(
            ConnectionRule::LocalEndpointNotStarted,
            format!(
                "{name}'s own endpoint {} is {}: ALTER ENDPOINT {} STATE = STARTED on {name}",
                endpoint.name,
                endpoint.state.as_sql(),
                endpoint.name
            ),
        ));
    }
    if !endpoint.role.allows(part) {
        return Err(hard(
            ConnectionRule::LocalEndpointWrongRole,
            format!(
                "{name}'s endpoint has ROLE = {} and cannot act as a {part}",
                endpoint.role.as_sql()
            ),
        ));
    }
    Ok(endpoint)
}

/// The endpoint listening at `to`, STARTED and of a role that allows the acceptor's part.
fn listening_endpoint<'a>(
    acceptor: &'a InstanceCatalog,
    to: &ServerAddress,
    part: SessionPart,
) -> Result<&'a Endpoint, Refusal> {
    let name = &acceptor.name;
    let endpoint = acceptor.endpoint.as_ref().ok_or_else(|| {
        hard(
            ConnectionRule::NoEndpoint,
            format!(
                "{name} has no database mirroring endpoint: nothing listens on port {}",
                to.port
            ),
        )
    })?;
    if endpoint.port != to.port {
        return Err(hard(
            ConnectionRule::WrongPort,
            format!(
                "nothing listens on port {} of {}: {name}'s endpoint listens on {}",
                to.port, to.host, endpoint.port
            ),
        ));
    }
    let started = format!("ALTER ENDPOINT {} STATE = STARTED on {name}", endpoint.name);
    match endpoint.state {
        EndpointState::Started => {}
        EndpointState::Stopped => {
            return Err(hard(
                ConnectionRule::EndpointStopped,
                format!("{name}'s endpoint {} is STOPPED: {started}", endpoint.name),
            ))
        }
        EndpointState::Disabled => {
            return Err(hard(
                ConnectionRule::EndpointDisabled,
                format!("{name}'s endpoint {} is DISABLED: {started}", endpoint.name),
            ))
        }
    }
    if !endpoint.role.allows(part) {
        let needed = match part {
            SessionPart::Partner => "PARTNER or ALL",
            SessionPart::Witness => "WITNESS or ALL",
        };
        return Err(hard(
            ConnectionRule::WrongRole,
            format!(
                "{name}'s endpoint has ROLE = {}, but a {part} needs {needed}",
                endpoint.role.as_sql()
            ),
        ));
    }
    Ok(endpoint)
}

/// Mutual authentication: both sides must accept each other's identity.
fn authenticate(
    initiator: &InstanceCatalog,
    initiator_endpoint: &Endpoint,
    acceptor: &InstanceCatalog,
    acceptor_endpoint: &Endpoint,
) -> Result<NegotiatedAuthentication, Refusal> {
    match (
        &initiator_endpoint.authentication,
        &acceptor_endpoint.authentication,
    ) {
        (Authentication::Windows(ours), Authentication::Windows(theirs)) => {
            let protocol = windows_protocol(*ours, *theirs).ok_or_else(|| {
                soft(
                    ConnectionRule::WindowsProtocolMismatch,
                    format!(
                        "{} authenticates with WINDOWS {} and {} with WINDOWS {}: use the same protocol or NEGOTIATE",
                        initiator.name,
                        ours.as_sql(),
                        acceptor.name,
                        theirs.as_sql()
                    ),
                )
            })?;
            for side in [initiator, acceptor] {
                if !is_domain_account(&side.service_account, &side.host) {
                    return Err(soft(
                        ConnectionRule::NotADomainAccount,
                        format!(
                            "{} runs under {}, a built-in or non-domain account, which Windows authentication cannot vouch for across hosts: use AUTHENTICATION = CERTIFICATE",
                            side.name, side.service_account
                        ),
                    ));
                }
            }
            Ok(NegotiatedAuthentication::Windows(protocol))
        }
        (Authentication::Certificate(ours), Authentication::Certificate(theirs)) => {
            let our_thumbprint = usable_certificate(initiator, ours)?;
            let their_thumbprint = usable_certificate(acceptor, theirs)?;
            trusts(acceptor, initiator, &our_thumbprint)?;
            trusts(initiator, acceptor, &their_thumbprint)?;
            Ok(NegotiatedAuthentication::Certificate)
        }
        (ours, theirs) => Err(soft(
            ConnectionRule::AuthenticationMismatch,
            format!(
                "{} authenticates with {} and {} with {}: both endpoints must use the same method",
                initiator.name,
                method(ours),
                acceptor.name,
                method(theirs)
            ),
        )),
    }
}

fn method(authentication: &Authentication) -> &'static str {
    match authentication {
        Authentication::Windows(_) => "WINDOWS",
        Authentication::Certificate(_) => "CERTIFICATE",
    }
}

/// NEGOTIATE agrees with either protocol; NTLM and KERBEROS only with themselves.
fn windows_protocol(ours: WindowsProtocol, theirs: WindowsProtocol) -> Option<WindowsProtocol> {
    match (ours, theirs) {
        (WindowsProtocol::Negotiate, other) | (other, WindowsProtocol::Negotiate) => Some(other),
        (ours, theirs) if ours == theirs => Some(ours),
        _ => None,
    }
}

/// A domain account is `DOMAIN\name` where DOMAIN is neither built in nor the host itself
/// (reference §7 prerequisite 3: built-in or non-domain accounts must use certificates).
pub(crate) fn is_domain_account(account: &str, host: &str) -> bool {
    let Some((domain, user)) = account.split_once('\\') else {
        return false;
    };
    let domain = domain.to_lowercase();
    let machine = host.split('.').next().unwrap_or(host).to_lowercase();
    !user.is_empty()
        && !domain.is_empty()
        && !matches!(
            domain.as_str(),
            "." | "nt authority" | "nt service" | "builtin" | "localhost"
        )
        && domain != machine
}

/// The thumbprint of the certificate an endpoint authenticates with, which must be this
/// instance's own (with its private key).
fn usable_certificate(side: &InstanceCatalog, name: &str) -> Result<String, Refusal> {
    match side.certificate(name) {
        Some(certificate) if certificate.has_private_key => Ok(certificate.thumbprint.clone()),
        Some(_) => Err(soft(
            ConnectionRule::CertificateUnusable,
            format!("{}'s endpoint certificate {name} was imported and has no private key: authenticate with a certificate created on {}", side.name, side.name),
        )),
        None => Err(soft(
            ConnectionRule::CertificateUnusable,
            format!("{}'s endpoint certificate {name} does not exist", side.name),
        )),
    }
}

/// Whether `holder` holds the certificate `presenter` authenticates with.
fn trusts(
    holder: &InstanceCatalog,
    presenter: &InstanceCatalog,
    thumbprint: &str,
) -> Result<(), Refusal> {
    if holder.certificate_by_thumbprint(thumbprint).is_some() {
        return Ok(());
    }
    Err(soft(
        ConnectionRule::CertificateNotTrusted,
        format!(
            "{} does not hold {}'s endpoint certificate: BACKUP CERTIFICATE on {} and CREATE CERTIFICATE ... FROM FILE on {}",
            holder.name, presenter.name, presenter.name, holder.name
        ),
    ))
}

/// DISABLED against REQUIRED fails; otherwise traffic is encrypted when neither side disables
/// it, with the acceptor's most preferred algorithm that the initiator also allows, and with
/// the acceptor's first when they allow none in common: reference section 7 says "when
/// preferences differ the accepting endpoint wins" and names DISABLED against REQUIRED as the
/// one pair that cannot connect (SQL Server itself refuses `AES` against `RC4`; the simulator
/// refused it too, with 1418, until a reading of the reference alone showed it).
fn negotiate_encryption(
    initiator: &InstanceCatalog,
    initiator_endpoint: &Endpoint,
    acceptor: &InstanceCatalog,
    acceptor_endpoint: &Endpoint,
) -> Result<Option<Algorithm>, Refusal> {
    let ours = &initiator_endpoint.encryption;
    let theirs = &acceptor_endpoint.encryption;
    match (ours.mode, theirs.mode) {
        (EncryptionMode::Disabled, EncryptionMode::Required)
        | (EncryptionMode::Required, EncryptionMode::Disabled) => Err(soft(
            ConnectionRule::EncryptionMismatch,
            format!(
                "{} has ENCRYPTION = {} and {} has ENCRYPTION = {}: make one of them SUPPORTED",
                initiator.name,
                ours.mode.as_sql(),
                acceptor.name,
                theirs.mode.as_sql()
            ),
        )),
        (EncryptionMode::Disabled, _) | (_, EncryptionMode::Disabled) => Ok(None),
        _ => Ok(theirs
            .algorithms
            .iter()
            .find(|algorithm| ours.algorithms.contains(algorithm))
            .or(theirs.algorithms.first())
            .copied()),
    }
}

/// The acceptor lets the initiator in: same service account (Windows), or a login for it that
/// holds CONNECT on the endpoint.
fn authorize(
    initiator: &InstanceCatalog,
    initiator_endpoint: &Endpoint,
    acceptor: &InstanceCatalog,
    acceptor_endpoint: &Endpoint,
) -> Result<(), Refusal> {
    let login = match &initiator_endpoint.authentication {
        Authentication::Windows(_) => {
            // The service account is the instance's own sysadmin: it needs no login.
            if initiator
                .service_account
                .eq_ignore_ascii_case(&acceptor.service_account)
            {
                return Ok(());
            }
            windows_login(initiator, acceptor)?
        }
        Authentication::Certificate(certificate) => {
            certificate_login(initiator, certificate, acceptor)?
        }
    };
    if acceptor_endpoint.connect_granted.contains(&key(&login)) {
        return Ok(());
    }
    Err(soft(
        ConnectionRule::NoConnectPermission,
        format!(
            "login {login} on {} is not granted CONNECT on endpoint {}: GRANT CONNECT ON ENDPOINT::{} TO [{login}] on {}",
            acceptor.name, acceptor_endpoint.name, acceptor_endpoint.name, acceptor.name
        ),
    ))
}

fn windows_login(
    initiator: &InstanceCatalog,
    acceptor: &InstanceCatalog,
) -> Result<String, Refusal> {
    match acceptor.login(&initiator.service_account) {
        Some(login) if login.source == LoginSource::Windows => Ok(login.name.clone()),
        _ => Err(soft(
            ConnectionRule::NoLogin,
            format!(
                "{} has no login for {}, the account {} runs under: CREATE LOGIN [{}] FROM WINDOWS on {}",
                acceptor.name, initiator.service_account, initiator.name, initiator.service_account, acceptor.name
            ),
        )),
    }
}

/// The login the acceptor maps the initiator's certificate to: one created FROM CERTIFICATE
/// it, or the certificate's AUTHORIZATION owner when a login of that name exists.
fn certificate_login(
    initiator: &InstanceCatalog,
    certificate: &str,
    acceptor: &InstanceCatalog,
) -> Result<String, Refusal> {
    let thumbprint = initiator
        .certificate(certificate)
        .map(|certificate| certificate.thumbprint.as_str());
    let imported = thumbprint.and_then(|thumbprint| acceptor.certificate_by_thumbprint(thumbprint));
    let mapped = imported.and_then(|imported| {
        let by_login = acceptor
            .logins
            .values()
            .find(|login| login.source == LoginSource::Certificate(key(&imported.name)));
        by_login.map(|login| login.name.clone()).or_else(|| {
            let owner = imported.owner.as_deref()?;
            acceptor.login(owner).map(|login| login.name.clone())
        })
    });
    mapped.ok_or_else(|| {
        let held_as = imported.map_or_else(|| certificate.to_string(), |imported| imported.name.clone());
        soft(
            ConnectionRule::NoLogin,
            format!(
                "{}'s certificate {held_as} maps to no login on {}: CREATE LOGIN ... FROM CERTIFICATE {held_as} on {}",
                initiator.name, acceptor.name, acceptor.name
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // reference §7 prerequisite 3: built-in or non-domain service accounts must use certificates.
    #[test]
    fn domain_accounts() {
        assert!(is_domain_account(r"CORP\svc-alpha", "alpha.corp.example"));
        assert!(!is_domain_account(r"ALPHA\sqlsvc", "alpha.corp.example"));
        assert!(!is_domain_account(
            r"NT Service\MSSQLSERVER",
            "alpha.corp.example"
        ));
        assert!(!is_domain_account(r"NT AUTHORITY\NETWORK SERVICE", "alpha"));
        assert!(!is_domain_account(r".\sqlsvc", "alpha"));
        assert!(!is_domain_account("LocalSystem", "alpha"));
    }

    // reference §7 prerequisite 3: NEGOTIATE agrees with NTLM and KERBEROS; they disagree.
    #[test]
    fn windows_protocols() {
        use WindowsProtocol::*;
        assert_eq!(windows_protocol(Negotiate, Kerberos), Some(Kerberos));
        assert_eq!(windows_protocol(Ntlm, Negotiate), Some(Ntlm));
        assert_eq!(windows_protocol(Negotiate, Negotiate), Some(Negotiate));
        assert_eq!(windows_protocol(Ntlm, Kerberos), None);
    }
}
