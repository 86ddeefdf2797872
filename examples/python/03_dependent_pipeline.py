import sitq
from typing import List, Dict, Any
import time

class AdvancedPipeline:
    """Advanced pipeline with task dependencies."""
    
    def __init__(self):
        self.backend = sitq.SQLiteBackend("advanced_pipeline.db")
        self.queue = sitq.TaskQueue(backend=self.backend)
        self.worker = sitq.Worker(self.queue)
    
    def validate_data(self, data: List[Dict]) -> Dict[str, Any]:
        """Validate input data."""
        print("Validating data...")
        time.sleep(0.5)
        
        # Basic validation
        valid_records = []
        invalid_records = []
        
        for record in data:
            if "id" in record and "value" in record:
                valid_records.append(record)
            else:
                invalid_records.append(record)
        
        return {
            "valid_count": len(valid_records),
            "invalid_count": len(invalid_records),
            "valid_data": valid_records,
            "invalid_data": invalid_records
        }
    
    def clean_data(self, data: List[Dict]) -> List[Dict]:
        """Clean and normalize data."""
        print("Cleaning data...")
        time.sleep(1)
        
        cleaned = []
        for record in data:
            cleaned_record = {
                "id": int(record["id"]),
                "value": float(record["value"]),
                "category": str(record.get("category", "unknown")).strip().lower(),
                "cleaned_at": time.time()
            }
            cleaned.append(cleaned_record)
        
        return cleaned
    
    def enrich_data(self, data: List[Dict]) -> List[Dict]:
        """Enrich data with additional information."""
        print("Enriching data...")
        time.sleep(1.5)
        
        enriched = []
        for record in data:
            enriched_record = {
                **record,
                "value_category": "high" if record["value"] > 0 else "low",
                "id_length": len(str(record["id"])),
                "enriched_at": time.time()
            }
            enriched.append(enriched_record)
        
        return enriched
    
    def aggregate_data(self, data: List[Dict]) -> Dict[str, Any]:
        """Aggregate processed data."""
        print("Aggregating data...")
        time.sleep(0.5)
        
        # Calculate aggregations
        values = [record["value"] for record in data]
        categories = [record["category"] for record in data]
        
        category_counts = {}
        for category in categories:
            category_counts[category] = category_counts.get(category, 0) + 1
        
        return {
            "total_records": len(data),
            "value_stats": {
                "mean": sum(values) / len(values),
                "min": min(values),
                "max": max(values),
                "sum": sum(values)
            },
            "category_distribution": category_counts,
            "aggregated_at": time.time()
        }
    
    def run_advanced_pipeline(self, raw_data: List[Dict]) -> Dict[str, Any]:
        """Run advanced pipeline with dependencies."""
        print("Starting advanced pipeline...")
        
        # Step 1: Validate data
        validate_task = sitq.Task(function=self.validate_data, args=[raw_data])
        validate_id = self.queue.enqueue(validate_task)
        validate_result = self.worker.process_task(validate_id)
        validation_output = validate_result.value
        
        # Step 2: Clean valid data (depends on validation)
        clean_task = sitq.Task(
            function=self.clean_data,
            args=[validation_output["valid_data"]]
        )
        clean_id = self.queue.enqueue(clean_task, depends_on=[validate_id])
        clean_result = self.worker.process_task(clean_id)
        cleaned_data = clean_result.value
        
        # Step 3: Enrich data (depends on cleaning)
        enrich_task = sitq.Task(
            function=self.enrich_data,
            args=[cleaned_data]
        )
        enrich_id = self.queue.enqueue(enrich_task, depends_on=[clean_id])
        enrich_result = self.worker.process_task(enrich_id)
        enriched_data = enrich_result.value
        
        # Step 4: Aggregate data (depends on enrichment)
        aggregate_task = sitq.Task(
            function=self.aggregate_data,
            args=[enriched_data]
        )
        aggregate_id = self.queue.enqueue(aggregate_task, depends_on=[enrich_id])
        aggregate_result = self.worker.process_task(aggregate_id)
        aggregation_output = aggregate_result.value
        
        return {
            "validation": validation_output,
            "cleaning": {
                "records_processed": len(cleaned_data)
            },
            "enrichment": {
                "records_processed": len(enriched_data)
            },
            "aggregation": aggregation_output
        }

# Use advanced pipeline
pipeline = AdvancedPipeline()

# Generate sample data with some invalid records
sample_data = [
    {"id": i, "value": i * 0.1, "category": f"cat_{i % 3}"}
    for i in range(100)
] + [
    {"id": i, "value": i * 0.1}  # Missing category
    for i in range(100, 110)
] + [
    {"value": i * 0.1, "category": f"cat_{i % 3}"}  # Missing id
    for i in range(110, 115)
]

result = pipeline.run_advanced_pipeline(sample_data)
print(f"Pipeline completed: {result}")
