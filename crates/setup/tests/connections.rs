//! Connection judging between endpoints (reference §3 and §7 prerequisites 2-4), both ways.

mod common;

use common::*;
use mirror_setup::{
    Algorithm, ConnectionRule, FailureKind, NegotiatedAuthentication, ServerAddress, SessionPart,
    WindowsProtocol,
};

fn at(instance: &str) -> ServerAddress {
    ServerAddress::new(host(instance), 7022)
}

fn endpoint_with(options: &str) -> String {
    format!("CREATE ENDPOINT Mirroring STATE = STARTED AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = ALL, {options})")
}

fn pair(alpha: &str, beta: &str) -> Rehearsal {
    let mut rehearsal = Rehearsal::new();
    rehearsal.run("alpha", &endpoint_with(alpha));
    rehearsal.run("beta", &endpoint_with(beta));
    rehearsal.run("alpha", &login_and_grant("beta"));
    rehearsal.run("beta", &login_and_grant("alpha"));
    rehearsal
}

// reference §7 prerequisite 3: "when preferences differ the accepting endpoint wins".
#[test]
fn the_acceptors_algorithm_preference_wins() {
    let rehearsal = pair(
        "ENCRYPTION = REQUIRED ALGORITHM RC4 AES",
        "ENCRYPTION = SUPPORTED ALGORITHM AES RC4",
    );
    let estate = &rehearsal.estate;
    let to_beta = estate
        .judge_connection(
            "alpha",
            SessionPart::Partner,
            &at("beta"),
            SessionPart::Partner,
        )
        .expect("ok");
    let to_alpha = estate
        .judge_connection(
            "beta",
            SessionPart::Partner,
            &at("alpha"),
            SessionPart::Partner,
        )
        .expect("ok");
    assert_eq!(to_beta.encryption, Some(Algorithm::Aes));
    assert_eq!(to_alpha.encryption, Some(Algorithm::Rc4));
    assert_eq!(
        to_beta.authentication,
        NegotiatedAuthentication::Windows(WindowsProtocol::Negotiate)
    );
}

// reference §7 prerequisite 3: "when preferences differ the accepting endpoint wins", and only
// REQUIRED against DISABLED "cannot connect": endpoints allowing one algorithm each, AES
// against the default RC4, connect with the acceptor's (they were refused with 1418).
#[test]
fn single_algorithms_that_differ_connect_with_the_acceptors() {
    let rehearsal = pair(
        "ENCRYPTION = REQUIRED ALGORITHM AES",
        "ENCRYPTION = REQUIRED",
    );
    let judge = |from: &str, to: &str| {
        rehearsal
            .estate
            .judge_connection(from, SessionPart::Partner, &at(to), SessionPart::Partner)
            .expect("the acceptor's algorithm is used")
            .encryption
    };
    assert_eq!(judge("alpha", "beta"), Some(Algorithm::Rc4));
    assert_eq!(judge("beta", "alpha"), Some(Algorithm::Aes));
}

// reference §7 prerequisite 3: DISABLED talks to SUPPORTED unencrypted, never to REQUIRED.
#[test]
fn disabled_encryption_meets_supported_but_not_required() {
    let rehearsal = pair("ENCRYPTION = DISABLED", "ENCRYPTION = SUPPORTED");
    let negotiated = rehearsal
        .estate
        .judge_connection(
            "alpha",
            SessionPart::Partner,
            &at("beta"),
            SessionPart::Partner,
        )
        .expect("unencrypted");
    assert_eq!(negotiated.encryption, None);
    let rehearsal = pair("ENCRYPTION = DISABLED", "ENCRYPTION = REQUIRED");
    for (from, to) in [("alpha", "beta"), ("beta", "alpha")] {
        let failure = rehearsal
            .estate
            .judge_connection(from, SessionPart::Partner, &at(to), SessionPart::Partner)
            .expect_err("DISABLED against REQUIRED");
        assert_eq!(
            (failure.kind, failure.rule),
            (FailureKind::Soft, ConnectionRule::EncryptionMismatch)
        );
        assert_eq!(failure.to_sql_error().number, 1418);
    }
}

// reference §7 prerequisite 3: NEGOTIATE agrees with KERBEROS; NTLM does not.
#[test]
fn windows_protocols_negotiate() {
    let rehearsal = pair(
        "AUTHENTICATION = WINDOWS NEGOTIATE",
        "AUTHENTICATION = WINDOWS KERBEROS",
    );
    let negotiated = rehearsal
        .estate
        .judge_connection(
            "alpha",
            SessionPart::Partner,
            &at("beta"),
            SessionPart::Partner,
        )
        .expect("negotiated");
    assert_eq!(
        negotiated.authentication,
        NegotiatedAuthentication::Windows(WindowsProtocol::Kerberos)
    );
    let rehearsal = pair(
        "AUTHENTICATION = WINDOWS NTLM",
        "AUTHENTICATION = WINDOWS KERBEROS",
    );
    let failure = rehearsal
        .estate
        .judge_connection(
            "alpha",
            SessionPart::Partner,
            &at("beta"),
            SessionPart::Partner,
        )
        .expect_err("NTLM against KERBEROS");
    assert_eq!(failure.rule, ConnectionRule::WindowsProtocolMismatch);
}

// reference §3 and §7: the hard rules come before the soft ones, and each names itself.
#[test]
fn hard_rules_before_soft_rules() {
    let mut rehearsal = Rehearsal::new();
    rehearsal.run("alpha", &endpoint("PARTNER"));
    let judge = |rehearsal: &Rehearsal, to: ServerAddress| {
        rehearsal
            .estate
            .judge_connection("alpha", SessionPart::Partner, &to, SessionPart::Witness)
            .expect_err("fails")
    };
    assert_eq!(
        judge(&rehearsal, ServerAddress::new("delta.corp.example", 7022)).rule,
        ConnectionRule::UnknownHost
    );
    assert_eq!(
        judge(&rehearsal, at("gamma")).rule,
        ConnectionRule::NoEndpoint
    );
    rehearsal.run("gamma", "CREATE ENDPOINT Mirroring AS TCP (LISTENER_PORT = 7022) FOR DATABASE_MIRRORING (ROLE = PARTNER)");
    assert_eq!(
        judge(&rehearsal, ServerAddress::new(host("gamma"), 7023)).rule,
        ConnectionRule::WrongPort
    );
    assert_eq!(
        judge(&rehearsal, at("gamma")).rule,
        ConnectionRule::EndpointStopped,
        "STATE defaults to STOPPED"
    );
    rehearsal.run("gamma", "ALTER ENDPOINT Mirroring STATE = STARTED");
    let failure = judge(&rehearsal, at("gamma"));
    assert_eq!(
        (failure.kind, failure.rule),
        (FailureKind::Hard, ConnectionRule::WrongRole)
    );
    rehearsal.run("gamma", "DROP ENDPOINT Mirroring");
    rehearsal.run("gamma", &endpoint("WITNESS"));
    let failure = judge(&rehearsal, at("gamma"));
    assert_eq!(
        (failure.kind, failure.rule),
        (FailureKind::Soft, ConnectionRule::NoLogin)
    );
    rehearsal.run("gamma", r"CREATE LOGIN [CORP\svc-alpha] FROM WINDOWS");
    assert_eq!(
        judge(&rehearsal, at("gamma")).rule,
        ConnectionRule::NoConnectPermission
    );
    rehearsal.run(
        "gamma",
        r"GRANT CONNECT ON ENDPOINT::Mirroring TO [corp\SVC-ALPHA]",
    );
    rehearsal
        .estate
        .judge_connection(
            "alpha",
            SessionPart::Partner,
            &at("gamma"),
            SessionPart::Witness,
        )
        .expect("all rules pass");
}

// reference §7 prerequisite 3: with certificates, each side must hold the other's certificate
// and map it to a login with CONNECT.
#[test]
fn certificates_must_be_exchanged_both_ways() {
    let mut rehearsal = Rehearsal::new();
    for name in ["alpha", "beta"] {
        rehearsal.run(name, &format!("CREATE CERTIFICATE {name}_cert WITH SUBJECT = '{name}'; BACKUP CERTIFICATE {name}_cert TO FILE = '{name}.cer'"));
        rehearsal.run(
            name,
            &endpoint_with(&format!("AUTHENTICATION = CERTIFICATE {name}_cert")),
        );
    }
    let judge = |rehearsal: &Rehearsal| {
        rehearsal.estate.judge_connection(
            "alpha",
            SessionPart::Partner,
            &at("beta"),
            SessionPart::Partner,
        )
    };
    assert_eq!(
        judge(&rehearsal).expect_err("beta lacks alpha's").rule,
        ConnectionRule::CertificateNotTrusted
    );
    rehearsal.run(
        "beta",
        "CREATE CERTIFICATE alpha_cert FROM FILE = 'alpha.cer'",
    );
    assert_eq!(
        judge(&rehearsal).expect_err("alpha lacks beta's").rule,
        ConnectionRule::CertificateNotTrusted
    );
    rehearsal.run(
        "alpha",
        "CREATE CERTIFICATE beta_cert FROM FILE = 'beta.cer'",
    );
    assert_eq!(
        judge(&rehearsal).expect_err("no mapping").rule,
        ConnectionRule::NoLogin
    );
    rehearsal.run(
        "beta",
        "CREATE LOGIN alpha_login FROM CERTIFICATE alpha_cert",
    );
    assert_eq!(
        judge(&rehearsal).expect_err("no grant").rule,
        ConnectionRule::NoConnectPermission
    );
    rehearsal.run(
        "beta",
        "GRANT CONNECT ON ENDPOINT::Mirroring TO alpha_login",
    );
    assert_eq!(
        judge(&rehearsal).expect("trusted").authentication,
        NegotiatedAuthentication::Certificate
    );
}
