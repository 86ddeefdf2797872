import sitq
import pandas as pd
import time
from typing import List, Dict, Any

class DataPipeline:
    """Simple ETL pipeline using sitq."""
    
    def __init__(self, backend=None):
        self.backend = backend or sitq.SQLiteBackend("pipeline.db")
        self.queue = sitq.TaskQueue(backend=self.backend)
        self.worker = sitq.Worker(self.queue)
    
    def extract_data(self, source_path: str) -> List[Dict]:
        """Extract data from source."""
        print(f"Extracting data from {source_path}")
        
        # Simulate data extraction
        time.sleep(1)
        
        # In real scenario, this would read from database, API, file, etc.
        data = [
            {"id": i, "value": i * 2, "category": f"cat_{i % 3}"}
            for i in range(100)
        ]
        
        return data
    
    def transform_data(self, data: List[Dict]) -> List[Dict]:
        """Transform data."""
        print(f"Transforming {len(data)} records")
        
        # Simulate data transformation
        time.sleep(2)
        
        transformed = []
        for record in data:
            transformed_record = {
                "id": record["id"],
                "doubled_value": record["value"] * 2,
                "category_upper": record["category"].upper(),
                "processed_at": time.time()
            }
            transformed.append(transformed_record)
        
        return transformed
    
    def load_data(self, data: List[Dict], destination: str) -> int:
        """Load data to destination."""
        print(f"Loading {len(data)} records to {destination}")
        
        # Simulate data loading
        time.sleep(1)
        
        # In real scenario, this would write to database, file, API, etc.
        df = pd.DataFrame(data)
        df.to_csv(destination, index=False)
        
        return len(data)
    
    def run_pipeline(self, source_path: str, destination: str) -> Dict[str, Any]:
        """Run the complete pipeline."""
        print("Starting ETL pipeline...")
        
        # Extract
        extract_task = sitq.Task(
            function=self.extract_data,
            args=[source_path]
        )
        extract_id = self.queue.enqueue(extract_task)
        extract_result = self.worker.process_task(extract_id)
        data = extract_result.value
        
        # Transform
        transform_task = sitq.Task(
            function=self.transform_data,
            args=[data]
        )
        transform_id = self.queue.enqueue(transform_task)
        transform_result = self.worker.process_task(transform_id)
        transformed_data = transform_result.value
        
        # Load
        load_task = sitq.Task(
            function=self.load_data,
            args=[transformed_data, destination]
        )
        load_id = self.queue.enqueue(load_task)
        load_result = self.worker.process_task(load_id)
        
        return {
            "source_records": len(data),
            "transformed_records": len(transformed_data),
            "loaded_records": load_result.value,
            "destination": destination
        }

# Use the pipeline
pipeline = DataPipeline()
result = pipeline.run_pipeline("source.csv", "output.csv")
print(f"Pipeline completed: {result}")
