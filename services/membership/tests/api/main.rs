//! candor-membership's tests, against the real PostgreSQL and RabbitMQ; each test
//! has its own database and RabbitMQ namespace.

mod startup;
