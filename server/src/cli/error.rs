//! How a command fails: [`CliError`] says whose fault it is, decided where
//! the error arises, not guessed afterwards from its type.
//!
//! The place that reads something the user gave (a file, a flag, a plan,
//! a closure, an output path; the image build when the plan or store is at
//! fault) marks its error [`Classify::bad_input`] (exit code 2); anything
//! else is [`Classify::failure`] (exit code 1). There is no `From` into
//! [`CliError`]: a `?` on an unclassified error does not compile, so a new
//! error type cannot slip past the classification.

use std::fmt::{Debug, Display};

/// A failed command, with whose fault it is.
#[derive(Debug)]
pub enum CliError {
    /// The user's input is unusable: exit code 2.
    BadInput(anyhow::Error),
    /// Anything else (an output cannot be written, the system failed): exit
    /// code 1.
    Failure(anyhow::Error),
}

/// What the subcommands return.
pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// The error, whatever its kind.
    pub fn error(&self) -> &anyhow::Error {
        match self {
            CliError::BadInput(e) | CliError::Failure(e) => e,
        }
    }

    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BadInput(_) => 2,
            CliError::Failure(_) => 1,
        }
    }

    /// Says where the error happened, keeping its kind.
    pub fn context(self, context: impl Display + Send + Sync + 'static) -> Self {
        match self {
            CliError::BadInput(e) => CliError::BadInput(e.context(context)),
            CliError::Failure(e) => CliError::Failure(e.context(context)),
        }
    }
}

/// A bad input described by `message` alone (no underlying error).
pub fn bad_input(message: impl Display + Debug + Send + Sync + 'static) -> CliError {
    CliError::BadInput(anyhow::Error::msg(message))
}

/// Classifies any error (`anyhow` or a typed one) as a [`CliError`].
pub trait Classify<T> {
    /// The user's input is at fault.
    fn bad_input(self) -> CliResult<T>;
    /// Something else is.
    fn failure(self) -> CliResult<T>;
}

impl<T, E: Into<anyhow::Error>> Classify<T> for Result<T, E> {
    fn bad_input(self) -> CliResult<T> {
        self.map_err(|e| CliError::BadInput(e.into()))
    }

    fn failure(self) -> CliResult<T> {
        self.map_err(|e| CliError::Failure(e.into()))
    }
}
