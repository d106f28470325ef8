//! The auth-level connector functions (`ConnectorFunctionSpecs`) and which
//! implementation types each may use.

use super::function_def::ImplementationType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthFunction {
    GetOAuthConfig,
    GetTokenData,
    GetCredentialsFromAccessTokenResponse,
    GetCredentialsFromRefreshTokenResponse,
    GetCredentialsFromConnectionParameters,
    RefreshCredentials,
    MakeApiClient,
    Test,
    Disconnect,
}

impl AuthFunction {
    pub const ALL: [AuthFunction; 9] = [
        AuthFunction::GetOAuthConfig,
        AuthFunction::GetTokenData,
        AuthFunction::GetCredentialsFromAccessTokenResponse,
        AuthFunction::GetCredentialsFromRefreshTokenResponse,
        AuthFunction::GetCredentialsFromConnectionParameters,
        AuthFunction::RefreshCredentials,
        AuthFunction::MakeApiClient,
        AuthFunction::Test,
        AuthFunction::Disconnect,
    ];

    /// The property name in a stored connector.
    pub fn name(self) -> &'static str {
        match self {
            AuthFunction::GetOAuthConfig => "getOAuthConfig",
            AuthFunction::GetTokenData => "getTokenData",
            AuthFunction::GetCredentialsFromAccessTokenResponse => {
                "getCredentialsFromAccessTokenResponse"
            }
            AuthFunction::GetCredentialsFromRefreshTokenResponse => {
                "getCredentialsFromRefreshTokenResponse"
            }
            AuthFunction::GetCredentialsFromConnectionParameters => {
                "getCredentialsFromConnectionParameters"
            }
            AuthFunction::RefreshCredentials => "refreshCredentials",
            AuthFunction::MakeApiClient => "makeApiClient",
            AuthFunction::Test => "test",
            AuthFunction::Disconnect => "disconnect",
        }
    }

    /// File name stems in the folder layout (`ConnectorAuthMethodTypes.fileKeys`, else
    /// the kebab-case name).
    pub fn file_stems(self) -> &'static [&'static str] {
        match self {
            AuthFunction::GetOAuthConfig => &["get-oauth-config", "oauth-config"],
            AuthFunction::GetTokenData => &["get-token-data"],
            AuthFunction::GetCredentialsFromAccessTokenResponse => {
                &["get-credentials-from-access-token-response"]
            }
            AuthFunction::GetCredentialsFromRefreshTokenResponse => {
                &["get-credentials-from-refresh-token-response"]
            }
            AuthFunction::GetCredentialsFromConnectionParameters => {
                &["get-credentials-from-connection-parameters"]
            }
            AuthFunction::RefreshCredentials => &["refresh-credentials"],
            AuthFunction::MakeApiClient => &["make-api-client", "api-client"],
            AuthFunction::Test => &["test"],
            AuthFunction::Disconnect => &["disconnect", "revoke"],
        }
    }

    pub fn from_file_stem(stem: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.file_stems().contains(&stem))
    }

    /// Implementation types the SDK's `ConnectorFunctionSpecs` allow (`not-supported`
    /// is always allowed: it states the function is absent).
    pub fn allowed(self) -> &'static [ImplementationType] {
        use ImplementationType::*;
        match self {
            AuthFunction::RefreshCredentials | AuthFunction::Disconnect => &[Javascript],
            AuthFunction::Test => &[OperationMapping, RestApiMapping, Javascript],
            _ => &[Mapping, Javascript],
        }
    }
}
