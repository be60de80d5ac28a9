//! The development SMS provider: writes to the server log. In development
//! mode the log line holds the text (so a developer can read the code); in
//! production only the masked number, because codes never go to logs.

use super::{mask_destination, NotifyError, SmsMessage, SmsProvider};

pub struct ConsoleSms {
    pub show_text: bool,
}

#[async_trait::async_trait]
impl SmsProvider for ConsoleSms {
    fn name(&self) -> &'static str {
        "console"
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), NotifyError> {
        if self.show_text {
            tracing::info!(to = %mask_destination(&message.to), text = %message.text, "SMS (console provider, development mode)");
        } else {
            tracing::warn!(to = %mask_destination(&message.to), "SMS not delivered: the console provider only logs; configure twilio or aliyun");
        }
        Ok(())
    }
}
