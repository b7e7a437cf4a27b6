//! The MongoDB client and database handle.

use std::time::Duration;

use async_trait::async_trait;
use domain::health::{ProbeError, StoreProbe};
use mongodb::bson::doc;
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};

/// Client settings, from configuration.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    pub uri: String,
    pub database: String,
    pub max_pool_size: u32,
    pub timeout: Duration,
}

/// A handle on the HealthSync database.
#[derive(Clone)]
pub struct MongoStore {
    client: Client,
    db: Database,
}

impl MongoStore {
    /// Parses the URI and builds the client. No connection is made yet, so this succeeds
    /// while the server is down.
    pub async fn new(config: &MongoConfig) -> Result<Self, String> {
        let mut options = ClientOptions::parse(&config.uri)
            .await
            .map_err(|e| e.to_string())?;
        options.app_name = Some("healthsync".into());
        options.max_pool_size = Some(config.max_pool_size);
        options.server_selection_timeout = Some(config.timeout);
        options.connect_timeout = Some(config.timeout);
        let client = Client::with_options(options).map_err(|e| e.to_string())?;
        let db = client.database(&config.database);
        Ok(Self { client, db })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// `/ready`'s probe of MongoDB: the `ping` command.
#[derive(Clone)]
pub struct MongoProbe(pub MongoStore);

#[async_trait]
impl StoreProbe for MongoProbe {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    async fn ping(&self) -> Result<(), ProbeError> {
        self.0
            .db
            .run_command(doc! { "ping": 1 })
            .await
            .map(|_| ())
            .map_err(|e| ProbeError(e.kind.to_string()))
    }
}
